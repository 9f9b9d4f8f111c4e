"""The DefaultTolerationSeconds plugin alone: its flags' values, and what it leaves alone."""

from __future__ import annotations

from pyk8s.api import scheme
from pyk8s.apiserver.admission.default_toleration_seconds import DefaultTolerationSeconds


def _resource(group: str, plural: str) -> scheme.Resource:
    return next(r for r in scheme.DEFAULT.resources if (r.group, r.plural) == (group, plural))


async def test_flag_values_and_create_only() -> None:
    plugin = DefaultTolerationSeconds(
        _resource("", "pods"), not_ready_seconds=10, unreachable_seconds=20
    )
    pod = {"spec": {"containers": []}}
    await plugin("CREATE", pod, None)
    assert [(t["key"], t["tolerationSeconds"]) for t in pod["spec"]["tolerations"]] == [
        ("node.kubernetes.io/not-ready", 10),
        ("node.kubernetes.io/unreachable", 20),
    ]
    updated = {"spec": {"containers": []}}
    await plugin("UPDATE", updated, pod)
    assert "tolerations" not in updated["spec"]


async def test_other_resources_are_left_alone() -> None:
    plugin = DefaultTolerationSeconds(_resource("", "podtemplates"))
    template = {"spec": {}}
    await plugin("CREATE", template, None)
    assert template == {"spec": {}}
