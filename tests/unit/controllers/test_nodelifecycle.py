"""Node lifecycle on the fake client with a fake clock."""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from pyk8s.client import clock
from pyk8s.controllers import nodelifecycle
from pyk8s.controllers.resources import NODES, PODS
from tests.unit.controllers.conftest import Harness, obj

T0 = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)


def ready_node(name: str) -> dict[str, Any]:
    return obj(
        "Node",
        name,
        None,
        status={
            "conditions": [
                {
                    "type": "Ready",
                    "status": "True",
                    "lastHeartbeatTime": "2026-01-01T00:00:00Z",
                    "lastTransitionTime": "2026-01-01T00:00:00Z",
                }
            ]
        },
    )


def pod_on(name: str, node: str, tolerations: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"nodeName": node, "containers": []}
    if tolerations is not None:
        spec["tolerations"] = tolerations
    return obj(
        "Pod",
        name,
        spec=spec,
        status={"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]},
    )


async def test_silent_node_goes_unknown_tainted_and_evicts(harness: Harness) -> None:
    fake = clock.FakeClock(wall_start=T0)
    harness.clock = fake  # type: ignore[assignment]
    harness.client.add(NODES, ready_node("n1"))
    harness.client.add(PODS, pod_on("plain", "n1", []))
    harness.client.add(
        PODS,
        pod_on(
            "patient",
            "n1",
            [
                {
                    "key": nodelifecycle.UNREACHABLE,
                    "operator": "Exists",
                    "effect": "NoExecute",
                    "tolerationSeconds": 600,
                }
            ],
        ),
    )
    harness.client.add(PODS, pod_on("elsewhere", "n2", []))
    ctl = await harness.start(nodelifecycle.new)
    await ctl.reconcile("n1")
    assert harness.verbs() == []  # heartbeat seen just now
    fake.advance(39)
    await ctl.reconcile("n1")
    assert harness.verbs() == []
    fake.advance(2)  # 41 s without a new heartbeat: past the 40 s grace
    await ctl.reconcile("n1")
    node = harness.client.objects(NODES)[0]
    (ready,) = node["status"]["conditions"]
    assert (ready["status"], ready["reason"]) == ("Unknown", "NodeStatusUnknown")
    taints = {(t["key"], t["effect"]) for t in node["spec"]["taints"]}
    assert taints == {
        (nodelifecycle.UNREACHABLE, "NoSchedule"),
        (nodelifecycle.UNREACHABLE, "NoExecute"),
    }
    assert harness.client.actions_of("delete", "pods") == []  # tolerated for a while
    status_patches = {a.name for a in harness.client.actions_of("patch", "pods")}
    assert status_patches == {"plain", "patient"}  # marked not ready
    fake.advance(301)  # past the default 300 s (DefaultTolerationSeconds), not past 600 s
    await harness.settle()
    await ctl.reconcile("n1")
    deleted = [a.name for a in harness.client.actions_of("delete", "pods")]
    assert deleted == ["plain"]
    assert "elsewhere" in {p["metadata"]["name"] for p in harness.client.objects(PODS)}


def test_other_no_execute_taint_evicts_at_once() -> None:
    taints = [{"key": "example.com/broken", "effect": "NoExecute"}]
    due = nodelifecycle.eviction_time(taints, [])
    assert due is not None and due.year == 1970


@pytest.mark.parametrize(
    ("tolerations", "expected"),
    [
        pytest.param([], 300, id="default-toleration-seconds"),
        pytest.param(
            [
                {
                    "key": "node.kubernetes.io/unreachable",
                    "operator": "Exists",
                    "effect": "NoExecute",
                }
            ],
            None,
            id="forever",
        ),
        pytest.param(
            [
                {"operator": "Exists", "tolerationSeconds": 60},
                {"operator": "Exists", "tolerationSeconds": 30},
            ],
            30,
            id="shortest-wins",
        ),
        pytest.param(
            [{"key": "other", "operator": "Exists", "effect": "NoExecute"}],
            300,
            id="wrong-key-gets-default",
        ),
    ],
)
def test_eviction_time(tolerations: list[dict[str, Any]], expected: int | None) -> None:
    taints = [
        {
            "key": "node.kubernetes.io/unreachable",
            "effect": "NoExecute",
            "timeAdded": "2026-01-01T00:00:00Z",
        }
    ]
    due = nodelifecycle.eviction_time(taints, tolerations)
    if expected is None:
        assert due is None
    elif expected == 0:
        assert due is not None and due.year == 1970
    else:
        assert due == T0 + datetime.timedelta(seconds=expected)
