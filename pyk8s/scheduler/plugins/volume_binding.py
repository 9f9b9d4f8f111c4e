"""VolumeBinding, the part that needs no PersistentVolume controller: claims must exist,
and a bound claim's volume must be reachable from the node.

Mirrors ``plugins/volumebinding/volume_binding.go`` and ``binder.go``: PreFilter skips
pods without ``persistentVolumeClaim`` volumes and rejects a pod whose claim is missing
(``persistentvolumeclaim "data" not found``) or being deleted; Filter rejects a node
that a bound claim's PersistentVolume cannot be used from (its ``nodeAffinity``, as a
``local`` volume has: ``node(s) had volume node affinity conflict``) or whose volume
does not exist (``pvc(s) bound to non-existent pv(s)``). Both are
UnschedulableAndUnresolvable. A claim or volume being added or changed requeues the
pods these rejected.

Not here: binding unbound claims (upstream's ``pod has unbound immediate
PersistentVolumeClaims``, matching WaitForFirstConsumer claims to volumes and
provisioning them) is the PersistentVolume controller's half of the work, which this
cluster does not run yet; unbound claims pass, so the kubelet reports them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pyk8s.scheduler.framework import interface as fw
from pyk8s.scheduler.framework.interface import Code, CycleState, PreFilterResult, Status
from pyk8s.scheduler.framework.nodeaffinity import NodeSelector
from pyk8s.scheduler.framework.types import NodeInfo, Obj, meta

NAME = "VolumeBinding"
_STATE_KEY = "PreFilter" + NAME
ERR_REASON_NODE_CONFLICT = "node(s) had volume node affinity conflict"
ERR_REASON_PV_NOT_EXIST = "pvc(s) bound to non-existent pv(s)"


@dataclass(frozen=True, slots=True)
class _BoundVolume:
    pv_name: str
    pv: Obj | None
    node_affinity: NodeSelector | None


def claim_names(pod: Obj) -> list[str]:
    return [
        str(v["persistentVolumeClaim"].get("claimName") or "")
        for v in (pod.get("spec") or {}).get("volumes") or ()
        if isinstance(v, Mapping) and isinstance(v.get("persistentVolumeClaim"), Mapping)
    ]


class VolumeBinding:
    name = NAME

    def __init__(self, handle: fw.Handle) -> None:
        self.handle = handle

    def pre_filter(
        self, state: CycleState, pod: Obj, nodes: Sequence[NodeInfo]
    ) -> tuple[PreFilterResult | None, Status | None]:
        names = claim_names(pod)
        if not names:
            return None, Status(Code.SKIP)
        ns = meta(pod).get("namespace", "")
        claims = self.handle.lister("persistentvolumeclaims")
        volumes = self.handle.lister("persistentvolumes")
        bound: list[_BoundVolume] = []
        for name in names:
            pvc = claims.get(ns, name)
            if pvc is None:
                return None, Status(
                    Code.UNSCHEDULABLE_AND_UNRESOLVABLE, f'persistentvolumeclaim "{name}" not found'
                )
            if meta(pvc).get("deletionTimestamp"):
                return None, Status(
                    Code.UNSCHEDULABLE_AND_UNRESOLVABLE,
                    f'persistentvolumeclaim "{name}" is being deleted',
                )
            pv_name = (pvc.get("spec") or {}).get("volumeName") or ""
            if not pv_name:
                continue  # unbound: binding it is the PersistentVolume controller's
            pv = volumes.get("", pv_name)
            required = (((pv or {}).get("spec") or {}).get("nodeAffinity") or {}).get("required")
            bound.append(_BoundVolume(pv_name, pv, NodeSelector(required) if required else None))
        state.write(_STATE_KEY, bound)
        return None, None

    def pre_filter_extensions(self) -> None:
        return None

    def filter(self, state: CycleState, pod: Obj, node_info: NodeInfo) -> Status | None:
        bound: list[_BoundVolume] | None = state.get(_STATE_KEY)
        if not bound:
            return None
        reasons: list[str] = []
        for b in bound:
            if b.pv is None:
                reason = ERR_REASON_PV_NOT_EXIST
            elif b.node_affinity is not None and not b.node_affinity.match(node_info.node):
                reason = ERR_REASON_NODE_CONFLICT
            else:
                continue
            if reason not in reasons:
                reasons.append(reason)
        if reasons:
            return Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, *reasons)
        return None

    def events_to_register(self) -> list[fw.ClusterEventWithHint]:
        add_or_update = fw.ActionType.ADD | fw.ActionType.UPDATE
        return [
            fw.ClusterEventWithHint(
                fw.ClusterEvent(fw.EventResource.PERSISTENT_VOLUME_CLAIM, add_or_update),
                _after_claim_change,
            ),
            fw.ClusterEventWithHint(
                fw.ClusterEvent(fw.EventResource.PERSISTENT_VOLUME, add_or_update),
            ),
            fw.ClusterEventWithHint(
                fw.ClusterEvent(
                    fw.EventResource.NODE,
                    fw.ActionType.ADD | fw.ActionType.UPDATE_NODE_LABEL,
                ),
            ),
        ]


def _after_claim_change(pod: Obj, old: Obj | None, new: Obj | None) -> fw.QueueingHint:
    """Only a claim of the pod's own may help it."""
    if new is None:
        return fw.QueueingHint.SKIP
    m, pm = meta(new), meta(pod)
    if m.get("namespace") == pm.get("namespace") and m.get("name") in claim_names(pod):
        return fw.QueueingHint.QUEUE
    return fw.QueueingHint.SKIP


def new(args: Mapping[str, Any] | None, handle: fw.Handle) -> VolumeBinding:
    return VolumeBinding(handle)
