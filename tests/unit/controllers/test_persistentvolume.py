"""The PersistentVolume controller's binder on the fake client."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pyk8s.controllers.resources import (
    PERSISTENTVOLUMECLAIMS,
    PERSISTENTVOLUMES,
    PODS,
    STORAGECLASSES,
)
from pyk8s.controllers.volume import persistentvolume
from pyk8s.controllers.volume.persistentvolume import controller as pvc_controller
from tests.unit.controllers.conftest import Harness, obj

PV = PERSISTENTVOLUMES
PVC = PERSISTENTVOLUMECLAIMS


class Recorded:
    """Stands in for the event recorder: keeps (type, reason, note, kind, name)."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str, str, str, str]] = []

    def event(self, regarding: Any, type_: str, reason: str, action: str, note: str) -> None:
        md = regarding["metadata"]
        self.events.append((type_, reason, note, regarding["kind"], md["name"]))


def volume(name: str, size: str = "1Gi", phase: str = "Available", **spec: Any) -> dict[str, Any]:
    return obj(
        "PersistentVolume",
        name,
        None,
        spec={
            "capacity": {"storage": size},
            "accessModes": ["ReadWriteOnce"],
            "persistentVolumeReclaimPolicy": "Retain",
            "volumeMode": "Filesystem",
            "hostPath": {"path": "/tmp/data"},
            **spec,
        },
        status={"phase": phase},
    )


def claim(name: str = "myclaim", size: str = "500Mi", **spec: Any) -> dict[str, Any]:
    return obj(
        "PersistentVolumeClaim",
        name,
        spec={
            "accessModes": ["ReadWriteOnce"],
            "resources": {"requests": {"storage": size}},
            "volumeMode": "Filesystem",
            **spec,
        },
        status={"phase": "Pending"},
    )


async def start(h: Harness) -> tuple[pvc_controller.PersistentVolumeController, Recorded]:
    ctl = await h.start(persistentvolume.new)
    rec = Recorded()
    ctl.recorder = rec  # type: ignore[assignment]
    return ctl, rec


def get(h: Harness, ref: Any, name: str) -> dict[str, Any]:
    (found,) = [o for o in h.client.objects(ref) if o["metadata"]["name"] == name]
    return found


async def test_new_volume_becomes_available(harness: Harness) -> None:
    harness.client.add(PV, volume("pv-vol1", phase="Pending"))
    ctl, _ = await start(harness)
    await ctl.reconcile("pv:pv-vol1")
    assert get(harness, PV, "pv-vol1")["status"]["phase"] == "Available"


async def test_claim_binds_to_the_seed_volume(harness: Harness) -> None:
    harness.client.add(PV, volume("pv-vol1"))
    harness.client.add(PVC, claim())
    ctl, _ = await start(harness)
    await ctl.reconcile("pvc:default/myclaim")
    pv = get(harness, PV, "pv-vol1")
    pvc = get(harness, PVC, "myclaim")
    ref = pv["spec"]["claimRef"]
    assert (ref["kind"], ref["namespace"], ref["name"], ref["uid"]) == (
        "PersistentVolumeClaim",
        "default",
        "myclaim",
        pvc["metadata"]["uid"],
    )
    assert pv["metadata"]["annotations"] == {"pv.kubernetes.io/bound-by-controller": "yes"}
    assert pv["status"]["phase"] == "Bound"
    assert pvc["spec"]["volumeName"] == "pv-vol1"
    assert pvc["metadata"]["annotations"] == {
        "pv.kubernetes.io/bind-completed": "yes",
        "pv.kubernetes.io/bound-by-controller": "yes",
    }
    assert pvc["status"] == {
        "phase": "Bound",
        "accessModes": ["ReadWriteOnce"],
        "capacity": {"storage": "1Gi"},
    }
    # a second sync (caches caught up) writes nothing
    await harness.settle()
    harness.client.clear_actions()
    await ctl.reconcile("pvc:default/myclaim")
    await ctl.reconcile("pv:pv-vol1")
    assert harness.verbs() == []


async def test_no_volume_and_no_class(harness: Harness) -> None:
    harness.client.add(PV, volume("small", size="100Mi"))
    harness.client.add(PVC, claim())
    ctl, rec = await start(harness)
    await ctl.reconcile("pvc:default/myclaim")
    assert get(harness, PVC, "myclaim")["status"]["phase"] == "Pending"
    assert rec.events == [
        (
            "Normal",
            "FailedBinding",
            "no persistent volumes available for this claim and no storage class is set",
            "PersistentVolumeClaim",
            "myclaim",
        )
    ]
    assert harness.verbs() == []


async def test_default_class_is_assigned_to_a_classless_claim(harness: Harness) -> None:
    sc = obj("StorageClass", "standard", None, provisioner="example.com/p")
    sc["metadata"]["annotations"] = {"storageclass.kubernetes.io/is-default-class": "true"}
    harness.client.add(STORAGECLASSES, sc)
    harness.client.add(PVC, claim())
    harness.client.add(PVC, claim("explicit-empty", storageClassName=""))
    ctl, rec = await start(harness)
    await ctl.reconcile("pvc:default/myclaim")
    await ctl.reconcile("pvc:default/explicit-empty")
    assert get(harness, PVC, "myclaim")["spec"]["storageClassName"] == "standard"
    assert get(harness, PVC, "explicit-empty")["spec"]["storageClassName"] == ""
    await harness.settle()
    await ctl.reconcile("pvc:default/myclaim")
    assert [e[1] for e in rec.events] == ["FailedBinding", "ExternalProvisioning"]
    assert "external provisioner 'example.com/p'" in rec.events[1][2]


async def test_wait_for_first_consumer_claims_are_left(harness: Harness) -> None:
    harness.client.add(
        STORAGECLASSES,
        obj(
            "StorageClass",
            "local",
            None,
            provisioner="kubernetes.io/no-provisioner",
            volumeBindingMode="WaitForFirstConsumer",
        ),
    )
    harness.client.add(PV, volume("local-1", storageClassName="local"))
    harness.client.add(PVC, claim(storageClassName="local"))
    ctl, rec = await start(harness)
    await ctl.reconcile("pvc:default/myclaim")
    assert "claimRef" not in get(harness, PV, "local-1")["spec"]
    assert rec.events[0][1:3] == (
        "WaitForFirstConsumer",
        "waiting for first consumer to be created before binding",
    )
    for name in ("web-0", "web-1"):
        harness.client.add(
            PODS,
            obj(
                "Pod",
                name,
                spec={
                    "containers": [],
                    "volumes": [{"name": "d", "persistentVolumeClaim": {"claimName": "myclaim"}}],
                },
            ),
        )
        await harness.settle()
        await ctl.reconcile("pvc:default/myclaim")
    assert [e[1:3] for e in rec.events[1:]] == [
        ("WaitForPodScheduled", "waiting for pod web-0 to be scheduled"),
        ("WaitForPodScheduled", "waiting for pods web-0,web-1 to be scheduled"),
    ]
    assert "claimRef" not in get(harness, PV, "local-1")["spec"]


async def test_missing_class(harness: Harness) -> None:
    harness.client.add(PVC, claim(storageClassName="gold"))
    ctl, rec = await start(harness)
    await ctl.reconcile("pvc:default/myclaim")
    assert rec.events[0][:3] == (
        "Warning",
        "ProvisioningFailed",
        'storageclass.storage.k8s.io "gold" not found',
    )


async def test_claim_naming_a_volume(harness: Harness) -> None:
    harness.client.add(PV, volume("big", size="10Gi"))
    harness.client.add(PV, volume("tiny", size="1Mi"))
    harness.client.add(PVC, claim("wants-big", volumeName="big"))
    harness.client.add(PVC, claim("wants-tiny", volumeName="tiny"))
    ctl, rec = await start(harness)
    await ctl.reconcile("pvc:default/wants-big")
    await ctl.reconcile("pvc:default/wants-tiny")
    big = get(harness, PVC, "wants-big")
    assert big["status"]["phase"] == "Bound"
    # the user chose the volume: the claim is not marked bound-by-controller
    assert big["metadata"]["annotations"] == {"pv.kubernetes.io/bind-completed": "yes"}
    assert get(harness, PVC, "wants-tiny")["status"]["phase"] == "Pending"
    assert rec.events == [
        (
            "Warning",
            "VolumeMismatch",
            'Cannot bind to requested volume "tiny": requested PV is too small',
            "PersistentVolumeClaim",
            "wants-tiny",
        )
    ]


async def test_volume_pre_bound_to_a_claim(harness: Harness) -> None:
    harness.client.add(PV, volume("a", size="1Gi"))
    harness.client.add(
        PV, volume("reserved", size="5Gi", claimRef={"namespace": "default", "name": "myclaim"})
    )
    harness.client.add(PVC, claim())
    ctl, _ = await start(harness)
    await ctl.reconcile("pvc:default/myclaim")
    reserved = get(harness, PV, "reserved")
    assert reserved["spec"]["claimRef"]["uid"] == get(harness, PVC, "myclaim")["metadata"]["uid"]
    assert "annotations" not in reserved["metadata"]  # the user bound it
    assert get(harness, PVC, "myclaim")["spec"]["volumeName"] == "reserved"
    assert "claimRef" not in get(harness, PV, "a")["spec"]


async def test_deleted_claim_releases_a_retained_volume(harness: Harness) -> None:
    harness.client.add(PV, volume("pv-vol1"))
    harness.client.add(PVC, claim())
    ctl, _ = await start(harness)
    await ctl.reconcile("pvc:default/myclaim")
    await harness.client.delete(PVC, "myclaim", "default")
    await harness.settle()
    await ctl.reconcile("pv:pv-vol1")
    pv = get(harness, PV, "pv-vol1")
    assert pv["status"]["phase"] == "Released"
    assert pv["spec"]["claimRef"]["name"] == "myclaim"  # kept: not available to others
    await harness.settle()
    harness.client.add(PVC, claim("another"))
    await harness.settle()
    await ctl.reconcile("pvc:default/another")
    assert get(harness, PVC, "another")["status"]["phase"] == "Pending"


async def test_delete_policy_removes_a_tmp_host_path(harness: Harness, tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "file").write_text("x")
    assert str(data).startswith("/tmp/")
    harness.client.add(
        PV,
        volume(
            "gone",
            persistentVolumeReclaimPolicy="Delete",
            hostPath={"path": str(data)},
            claimRef={"namespace": "default", "name": "deleted", "uid": "u-9"},
        ),
    )
    harness.client.add(
        PV,
        volume(
            "kept",
            persistentVolumeReclaimPolicy="Delete",
            hostPath={"path": "/srv/data"},
            claimRef={"namespace": "default", "name": "deleted2", "uid": "u-8"},
        ),
    )
    ctl, rec = await start(harness)
    await ctl.reconcile("pv:gone")
    assert not data.exists()
    assert [o["metadata"]["name"] for o in harness.client.objects(PV)] == ["kept"]
    await ctl.reconcile("pv:kept")
    kept = get(harness, PV, "kept")
    assert kept["status"]["phase"] == "Failed"
    message = "host_path deleter only supports /tmp/.+ but received provided /srv/data"
    assert kept["status"]["message"] == message
    assert rec.events == [("Warning", "VolumeFailedDelete", message, "PersistentVolume", "kept")]


async def test_bound_claim_whose_volume_is_gone_is_lost(harness: Harness) -> None:
    c = claim(volumeName="vanished")
    c["metadata"]["annotations"] = {"pv.kubernetes.io/bind-completed": "yes"}
    c["status"] = {"phase": "Bound"}
    harness.client.add(PVC, c)
    ctl, rec = await start(harness)
    await ctl.reconcile("pvc:default/myclaim")
    assert get(harness, PVC, "myclaim")["status"]["phase"] == "Lost"
    assert rec.events[0][1] == "ClaimLost"


async def test_controller_is_registered() -> None:
    from pyk8s.controllers import manager

    table = manager.controllers()
    assert "persistentvolume-binder-controller" in manager.enabled_names(["*"], table)
    assert manager.enabled_names(["persistentvolume-binder"], table) == [
        "persistentvolume-binder-controller"
    ]


async def test_new_volumes_and_claims_are_protected() -> None:
    from pyk8s.api import scheme
    from pyk8s.apiserver.admission.storage_object_in_use_protection import (
        StorageObjectInUseProtection,
    )

    for plural, finalizer in (
        ("persistentvolumes", "kubernetes.io/pv-protection"),
        ("persistentvolumeclaims", "kubernetes.io/pvc-protection"),
    ):
        (res,) = [r for r in scheme.DEFAULT.resources if r.group == "" and r.plural == plural]
        plugin = StorageObjectInUseProtection(res)
        new: dict[str, Any] = {"metadata": {"name": "x", "finalizers": ["example.com/keep"]}}
        await plugin("CREATE", new, None)
        assert new["metadata"]["finalizers"] == ["example.com/keep", finalizer]
        await plugin("CREATE", new, None)
        assert new["metadata"]["finalizers"] == ["example.com/keep", finalizer]
        updated: dict[str, Any] = {"metadata": {"name": "x"}}
        await plugin("UPDATE", updated, new)
        assert "finalizers" not in updated["metadata"]
