"""ImageLocality scoring and DefaultBinder's Binding."""

from __future__ import annotations

import pytest

from pyk8s.scheduler.fake import FakeSeams
from pyk8s.scheduler.framework import interface as fw
from pyk8s.scheduler.framework.interface import Code, CycleState
from pyk8s.scheduler.plugins import image_locality
from pyk8s.scheduler.plugins.default_binder import DefaultBinder
from pyk8s.scheduler.plugins.image_locality import ImageLocality
from tests.unit.scheduler.builders import node, node_info, pod
from tests.unit.scheduler.conftest import handle_over

MB = 1024 * 1024


@pytest.mark.parametrize(
    ("name", "normalized"),
    [
        pytest.param("nginx", "nginx:latest", id="bare"),
        pytest.param("nginx:1.25", "nginx:1.25", id="tagged"),
        pytest.param("localhost:5000/app", "localhost:5000/app:latest", id="registry-port"),
        pytest.param("gcr.io/x/y:v1", "gcr.io/x/y:v1", id="full"),
    ],
)
def test_normalized_image_name(name: str, normalized: str) -> None:
    assert image_locality.normalized_image_name(name) == normalized


def test_score_by_size_and_spread() -> None:
    from pyk8s.scheduler.cache import Cache

    cache = Cache()
    cache.add_node(node("n1", images=[(["nginx:latest"], 300 * MB)]))
    cache.add_node(node("n2"))
    infos = [cache.nodes["n1"], cache.nodes["n2"]]
    plugin = ImageLocality(handle_over(infos))
    _: fw.ScorePlugin = plugin
    p = pod(image="nginx")
    # 300 MB on 1 of 2 nodes → 150 MB; (150 - 23) * 100 / (1000 - 23) = 12
    assert plugin.score(CycleState(), p, infos[0])[0] == 12
    assert plugin.score(CycleState(), p, infos[1])[0] == 0
    assert plugin.score(CycleState(), pod(image="small"), node_info(node("n3")))[0] == 0


async def test_default_binder_posts_a_binding() -> None:
    fakes = FakeSeams()
    binder = DefaultBinder(handle_over([], fakes))
    _: fw.BindPlugin = binder
    p = pod("web", namespace="prod", uid="u-1")
    assert await binder.bind(CycleState(), p, "n1") is None
    assert fakes.binder.bindings == [
        {
            "apiVersion": "v1",
            "kind": "Binding",
            "metadata": {"namespace": "prod", "name": "web", "uid": "u-1"},
            "target": {"kind": "Node", "name": "n1"},
        }
    ]


async def test_default_binder_reports_api_errors() -> None:
    from pyk8s.scheduler.fake import FakeBinder

    fakes = FakeSeams(binder=FakeBinder(error=RuntimeError('pods "web" not found')))
    s = await DefaultBinder(handle_over([], fakes)).bind(CycleState(), pod("web"), "n1")
    assert s is not None and s.code == Code.ERROR and s.message() == 'pods "web" not found'
