"""Taint eviction on the fake client with a fake clock (upstream taint_eviction_test.go)."""

from __future__ import annotations

from typing import Any

import pytest

from pyk8s.client import clock
from pyk8s.controllers import tainteviction, taints
from pyk8s.controllers.resources import NODES, PODS
from tests.unit.controllers.conftest import Harness, obj

UNREACHABLE = {
    "key": taints.UNREACHABLE,
    "effect": "NoExecute",
    "timeAdded": "2026-01-01T00:00:00Z",
}


def tainted_node(name: str, *node_taints: dict[str, Any]) -> dict[str, Any]:
    return obj("Node", name, None, spec={"taints": list(node_taints)})


def pod_on(name: str, node: str, tolerations: list[dict[str, Any]]) -> dict[str, Any]:
    return obj(
        "Pod",
        name,
        spec={"nodeName": node, "containers": [], "tolerations": tolerations},
        status={"phase": "Running"},
    )


def toleration(seconds: int | None) -> dict[str, Any]:
    t: dict[str, Any] = {"key": taints.UNREACHABLE, "operator": "Exists", "effect": "NoExecute"}
    if seconds is not None:
        t["tolerationSeconds"] = seconds
    return t


def names(harness: Harness) -> set[str]:
    return {p["metadata"]["name"] for p in harness.client.objects(PODS)}


async def test_untolerated_now_tolerated_later_or_never(harness: Harness) -> None:
    fake = clock.FakeClock()
    harness.clock = fake  # type: ignore[assignment]
    harness.client.add(NODES, tainted_node("n1", UNREACHABLE))
    harness.client.add(NODES, tainted_node("n2"))
    harness.client.add(PODS, pod_on("plain", "n1", []))
    harness.client.add(PODS, pod_on("patient", "n1", [toleration(300)]))
    harness.client.add(PODS, pod_on("forever", "n1", [toleration(None)]))
    harness.client.add(PODS, pod_on("elsewhere", "n2", []))
    ctl = await harness.start(tainteviction.new)
    await ctl.reconcile("n1")
    assert names(harness) == {"patient", "forever", "elsewhere"}
    (patch,) = harness.client.actions_of("patch", "pods")
    assert patch.name == "plain" and patch.subresource == "status"
    (cond,) = patch.patch["status"]["conditions"]
    assert (cond["type"], cond["reason"]) == ("DisruptionTarget", "DeletionByTaintManager")
    fake.advance(299)
    await harness.settle()
    await ctl.reconcile("default/patient")
    assert "patient" in names(harness)
    fake.advance(2)
    await harness.settle()
    await ctl.reconcile("default/patient")
    assert names(harness) == {"forever", "elsewhere"}


async def test_taint_removed_in_time_cancels_the_eviction(harness: Harness) -> None:
    fake = clock.FakeClock()
    harness.clock = fake  # type: ignore[assignment]
    harness.client.add(NODES, tainted_node("n1", UNREACHABLE))
    harness.client.add(PODS, pod_on("patient", "n1", [toleration(60)]))
    ctl = await harness.start(tainteviction.new)
    await ctl.reconcile("n1")
    assert set(ctl.scheduled) == {"default/patient"}
    n1 = harness.client.objects(NODES)[0]
    n1["spec"]["taints"] = []
    await harness.client.update(NODES, n1)
    await harness.settle()
    await ctl.reconcile("n1")
    assert ctl.scheduled == {}
    fake.advance(61)
    await ctl.reconcile("default/patient")
    assert names(harness) == {"patient"}


@pytest.mark.parametrize(
    ("used", "expected"),
    [
        pytest.param([], 0.0, id="none-used"),
        pytest.param([{"tolerationSeconds": 60}, {"tolerationSeconds": 30}], 30.0, id="smallest"),
        pytest.param([{}], -1.0, id="forever"),
        pytest.param([{"tolerationSeconds": -5}], 0.0, id="negative-is-now"),
    ],
)
def test_min_toleration_seconds(used: list[dict[str, Any]], expected: float) -> None:
    assert tainteviction.min_toleration_seconds(used) == expected


@pytest.mark.parametrize(
    ("tol", "taint", "expected"),
    [
        pytest.param({"operator": "Exists"}, UNREACHABLE, True, id="exists-everything"),
        pytest.param({"key": "x", "operator": "Exists"}, UNREACHABLE, False, id="other-key"),
        pytest.param(
            {"key": taints.UNREACHABLE, "effect": "NoSchedule", "operator": "Exists"},
            UNREACHABLE,
            False,
            id="other-effect",
        ),
        pytest.param(
            {"key": "k", "value": "v"},
            {"key": "k", "value": "v", "effect": "NoExecute"},
            True,
            id="equal",
        ),
        pytest.param(
            {"key": "k", "value": "w"},
            {"key": "k", "value": "v", "effect": "NoExecute"},
            False,
            id="unequal",
        ),
    ],
)
def test_tolerates(tol: dict[str, Any], taint: dict[str, Any], expected: bool) -> None:
    assert taints.tolerates(tol, taint) is expected
