"""VolumeBinding: missing or deleting claims, bound volumes' node affinity, requeueing."""

from __future__ import annotations

from typing import Any

import pytest

from pyk8s.scheduler import eventhandlers
from pyk8s.scheduler.fake import FakeSeams, StaticLister
from pyk8s.scheduler.framework import interface as fw
from pyk8s.scheduler.framework.interface import Code, CycleState, Status
from pyk8s.scheduler.framework.runtime import Framework
from pyk8s.scheduler.plugins import volume_binding
from pyk8s.scheduler.plugins.registry import IN_TREE
from tests.unit.scheduler.builders import node, node_info, pod
from tests.unit.scheduler.conftest import FakeClock
from tests.unit.scheduler.harness import Harness

UNRESOLVABLE = Code.UNSCHEDULABLE_AND_UNRESOLVABLE
PVC = fw.EventResource.PERSISTENT_VOLUME_CLAIM


def claim(name: str, volume: str = "", deleting: bool = False) -> dict[str, Any]:
    m: dict[str, Any] = {"name": name, "namespace": "default"}
    if deleting:
        m["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    return {"kind": "PersistentVolumeClaim", "metadata": m, "spec": {"volumeName": volume}}


def local_volume(name: str, host: str | None) -> dict[str, Any]:
    spec: dict[str, Any] = {"local": {"path": "/mnt/disk"}}
    if host is not None:
        term = {
            "matchExpressions": [
                {"key": "kubernetes.io/hostname", "operator": "In", "values": [host]}
            ]
        }
        spec["nodeAffinity"] = {"required": {"nodeSelectorTerms": [term]}}
    return {"kind": "PersistentVolume", "metadata": {"name": name}, "spec": spec}


def with_claims(*names: str) -> dict[str, Any]:
    p = pod()
    p["spec"]["volumes"] = [{"name": n, "persistentVolumeClaim": {"claimName": n}} for n in names]
    return p


def plugin(claims: list[dict], volumes: list[dict]) -> volume_binding.VolumeBinding:
    fakes = FakeSeams()
    fakes.listers["persistentvolumeclaims"] = StaticLister(claims)
    fakes.listers["persistentvolumes"] = StaticLister(volumes)
    f = Framework("default-scheduler", {}, {}, IN_TREE, fakes.seams())
    return volume_binding.VolumeBinding(f)


def test_protocols() -> None:
    p = plugin([], [])
    _: fw.PreFilterPlugin = p
    _f: fw.FilterPlugin = p
    _e: fw.EnqueueExtensions = p


@pytest.mark.parametrize(
    ("p", "claims", "volumes", "pre_filter", "on_n1", "on_n2"),
    [
        pytest.param(pod(), [], [], Status(Code.SKIP), None, None, id="no-claims"),
        pytest.param(
            with_claims("data"),
            [],
            [],
            Status(UNRESOLVABLE, 'persistentvolumeclaim "data" not found'),
            None,
            None,
            id="missing-claim",
        ),
        pytest.param(
            with_claims("data"),
            [claim("data", deleting=True)],
            [],
            Status(UNRESOLVABLE, 'persistentvolumeclaim "data" is being deleted'),
            None,
            None,
            id="claim-being-deleted",
        ),
        pytest.param(
            with_claims("data"), [claim("data")], [], None, None, None, id="unbound-claim-passes"
        ),
        pytest.param(
            with_claims("data"),
            [claim("data", "pv-1")],
            [local_volume("pv-1", "n1")],
            None,
            None,
            Status(UNRESOLVABLE, "node(s) had volume node affinity conflict"),
            id="local-volume-pins-the-node",
        ),
        pytest.param(
            with_claims("data"),
            [claim("data", "pv-1")],
            [local_volume("pv-1", None)],
            None,
            None,
            None,
            id="volume-without-affinity",
        ),
        pytest.param(
            with_claims("data", "logs"),
            [claim("data", "pv-1"), claim("logs", "pv-gone")],
            [local_volume("pv-1", "n1")],
            None,
            Status(UNRESOLVABLE, "pvc(s) bound to non-existent pv(s)"),
            Status(
                UNRESOLVABLE,
                "node(s) had volume node affinity conflict",
                "pvc(s) bound to non-existent pv(s)",
            ),
            id="volume-missing",
        ),
    ],
)
def test_filter(
    p: dict,
    claims: list[dict],
    volumes: list[dict],
    pre_filter: Status | None,
    on_n1: Status | None,
    on_n2: Status | None,
) -> None:
    pl = plugin(claims, volumes)
    state = CycleState()
    _, s = pl.pre_filter(state, p, [])
    assert s == pre_filter
    if s is not None:
        return
    assert pl.filter(state, p, node_info(node("n1"))) == on_n1
    assert pl.filter(state, p, node_info(node("n2"))) == on_n2


async def test_a_pod_waits_for_its_claim_and_goes_to_its_volumes_node(clock: FakeClock) -> None:
    h = Harness([node("n1"), node("n2"), node("n3")], clock=clock)
    claims, volumes = StaticLister(), StaticLister()
    h.fakes.listers["persistentvolumeclaims"] = claims
    h.fakes.listers["persistentvolumes"] = volumes
    p = with_claims("data")
    h.add_pod(p)
    await h.schedule()
    assert h.failed_messages() == [
        '0/3 nodes are available: persistentvolumeclaim "data" not found. '
        "preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling."
    ]
    assert h.scheduler.queue.where(p) == "unschedulable"
    # someone else's claim does not help; the pod's own claim does
    other = claim("other")
    claims.objects.append(other)
    eventhandlers.on_volume_event(h.scheduler, PVC, None, other)
    assert h.scheduler.queue.where(p) == "unschedulable"
    volumes.objects.append(local_volume("pv-1", "n3"))
    bound = claim("data", "pv-1")
    claims.objects.append(bound)
    eventhandlers.on_volume_event(h.scheduler, PVC, None, bound)
    assert h.scheduler.queue.where(p) == "backoff"
    clock.step(1)
    h.scheduler.queue.flush_backoff_completed()
    assert h.scheduler.queue.where(p) == "active"
    await h.schedule()
    assert [b["target"]["name"] for b in h.fakes.binder.bindings] == ["n3"]
