"""The PVC and PV protection controllers on the fake client."""

from __future__ import annotations

from typing import Any

from pyk8s.api import meta
from pyk8s.controllers.resources import PERSISTENTVOLUMECLAIMS, PERSISTENTVOLUMES, PODS
from pyk8s.controllers.volume import pvcprotection, pvprotection
from tests.unit.controllers.conftest import Harness, obj

PVC_FIN = "kubernetes.io/pvc-protection"
PV_FIN = "kubernetes.io/pv-protection"


def deleting_claim(name: str = "myclaim") -> dict[str, Any]:
    return obj(
        "PersistentVolumeClaim",
        name,
        metadata={"deletionTimestamp": meta.now(), "finalizers": [PVC_FIN]},
        spec={},
    )


def pod(name: str, claim: str, node: str = "node-1") -> dict[str, Any]:
    spec: dict[str, Any] = {
        "containers": [],
        "volumes": [{"name": "v", "persistentVolumeClaim": {"claimName": claim}}],
    }
    if node:
        spec["nodeName"] = node
    return obj("Pod", name, spec=spec)


def finalizers(h: Harness, ref: Any, name: str) -> list[str] | None:
    for o in h.client.objects(ref):
        if o["metadata"]["name"] == name:
            return list(o["metadata"].get("finalizers") or [])
    return None


async def test_claim_used_by_a_scheduled_pod_is_kept(harness: Harness) -> None:
    harness.client.add(PERSISTENTVOLUMECLAIMS, deleting_claim())
    harness.client.add(PODS, pod("mypod", "myclaim"))
    ctl = await harness.start(pvcprotection.new)
    await ctl.reconcile("default/myclaim")
    assert finalizers(harness, PERSISTENTVOLUMECLAIMS, "myclaim") == [PVC_FIN]
    await harness.client.delete(PODS, "mypod", "default")
    await harness.settle()
    await ctl.reconcile("default/myclaim")
    assert finalizers(harness, PERSISTENTVOLUMECLAIMS, "myclaim") is None  # deleted at last


async def test_unscheduled_pods_and_other_claims_do_not_hold(harness: Harness) -> None:
    harness.client.add(PERSISTENTVOLUMECLAIMS, deleting_claim())
    harness.client.add(PODS, pod("pending", "myclaim", node=""))
    harness.client.add(PODS, pod("other", "another"))
    ctl = await harness.start(pvcprotection.new)
    await ctl.reconcile("default/myclaim")
    assert finalizers(harness, PERSISTENTVOLUMECLAIMS, "myclaim") is None


async def test_older_claims_get_the_finalizer(harness: Harness) -> None:
    harness.client.add(PERSISTENTVOLUMECLAIMS, obj("PersistentVolumeClaim", "old", spec={}))
    ctl = await harness.start(pvcprotection.new)
    await ctl.reconcile("default/old")
    assert finalizers(harness, PERSISTENTVOLUMECLAIMS, "old") == [PVC_FIN]


def volume(name: str, phase: str) -> dict[str, Any]:
    return obj(
        "PersistentVolume",
        name,
        None,
        metadata={"deletionTimestamp": meta.now(), "finalizers": [PV_FIN]},
        spec={},
        status={"phase": phase},
    )


async def test_bound_volume_is_kept_until_released(harness: Harness) -> None:
    harness.client.add(PERSISTENTVOLUMES, volume("bound", "Bound"))
    harness.client.add(PERSISTENTVOLUMES, volume("released", "Released"))
    ctl = await harness.start(pvprotection.new)
    await ctl.reconcile("bound")
    await ctl.reconcile("released")
    assert finalizers(harness, PERSISTENTVOLUMES, "bound") == [PV_FIN]
    assert finalizers(harness, PERSISTENTVOLUMES, "released") is None
