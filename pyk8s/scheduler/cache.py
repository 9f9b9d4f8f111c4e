"""The scheduler's cache of nodes and pods, with assumed pods and per-cycle snapshots.

Mirrors ``pkg/scheduler/backend/cache/{cache.go,snapshot.go}``. After choosing a
node the scheduler *assumes* the pod there at once, so the next cycle already sees
its resources used while the binding runs in the background; the informer's add
event later confirms it, ``forget_pod`` undoes a failed binding, and an assumed pod
whose binding finished but whose add never came expires after ``ttl`` seconds
(0, upstream's default, means never). ``update_snapshot`` copies only the nodes
that changed since the previous snapshot; its node list is zone-interleaved as
upstream's ``node_tree.go`` has it, so that the scheduler's round-robin search
(each cycle starting where the last one stopped) spreads over zones.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from pyk8s.scheduler.framework.types import (
    ImageStateSummary,
    NodeInfo,
    Obj,
    PodInfo,
    meta,
    namespaced_name,
    node_name,
    pod_key,
)

log = logging.getLogger(__name__)


ZONE_LABELS = ("topology.kubernetes.io/zone", "failure-domain.beta.kubernetes.io/zone")
REGION_LABELS = ("topology.kubernetes.io/region", "failure-domain.beta.kubernetes.io/region")


def zone_key(node: Obj) -> str:
    """The node's region and zone as one key, "" without either (``utilnode.GetZoneKey``)."""
    labels = meta(node).get("labels") or {}
    region = next((labels[k] for k in REGION_LABELS if labels.get(k)), "")
    zone = next((labels[k] for k in ZONE_LABELS if labels.get(k)), "")
    if not region and not zone:
        return ""
    return f"{region}:\x00:{zone}"


def zone_interleaved(names: Sequence[tuple[str, str]]) -> list[str]:
    """Node names taken one zone at a time (``nodeTree.list``).

    ``names`` are (node, zone key) in the order the nodes were added; zones come in
    the order their first node appears, and each zone gives its nodes in order.
    (Upstream's tree keeps zones in the order they were first seen and swaps a
    removed node with its zone's last; the interleaving is the same.)
    """
    zones: dict[str, list[str]] = {}
    for name, zone in names:
        zones.setdefault(zone, []).append(name)
    if len(zones) <= 1:
        return [name for name, _ in names]
    out: list[str] = []
    columns = list(zones.values())
    for i in range(max(len(c) for c in columns)):
        out.extend(c[i] for c in columns if i < len(c))
    return out


class CacheError(RuntimeError):
    """An event that contradicts what the cache holds (a bug or a missed event)."""


@dataclass
class _PodState:
    pod: Obj
    deadline: float | None = None
    binding_finished: bool = False


def _images(node: Obj) -> list[tuple[list[str], int]]:
    return [
        (list(img.get("names") or ()), int(img.get("sizeBytes") or 0))
        for img in (node.get("status") or {}).get("images") or ()
    ]


class Snapshot:
    """The NodeInfos one scheduling cycle works on (``framework.NodeInfoLister``)."""

    def __init__(self, nodes: Sequence[NodeInfo] = ()) -> None:
        self.node_info_map: dict[str, NodeInfo] = {}
        self.node_info_list: list[NodeInfo] = []
        self.index: dict[str, int] = {}
        self._with_affinity: list[NodeInfo] = []
        self._with_required_anti_affinity: list[NodeInfo] = []
        self.generation = 0
        for n in nodes:
            self.node_info_map[n.name] = n
        self.rebuild_lists()

    def rebuild_lists(self, order: Sequence[str] | None = None) -> None:
        names = order if order is not None else list(self.node_info_map)
        self.node_info_list = [self.node_info_map[n] for n in names if n in self.node_info_map]
        self.index = {n.name: i for i, n in enumerate(self.node_info_list)}
        self.rebuild_affinity_lists()

    def rebuild_affinity_lists(self) -> None:
        self._with_affinity = [n for n in self.node_info_list if n.pods_with_affinity]
        self._with_required_anti_affinity = [
            n for n in self.node_info_list if n.pods_with_required_anti_affinity
        ]

    def list(self) -> Sequence[NodeInfo]:
        return self.node_info_list

    def get(self, node_name: str) -> NodeInfo:
        try:
            return self.node_info_map[node_name]
        except KeyError:
            raise KeyError(f'nodeinfo not found for node name "{node_name}"') from None

    def have_pods_with_affinity(self) -> Sequence[NodeInfo]:
        return self._with_affinity

    def have_pods_with_required_anti_affinity(self) -> Sequence[NodeInfo]:
        return self._with_required_anti_affinity

    def num_nodes(self) -> int:
        return len(self.node_info_list)


class Cache:
    """Nodes, pods and assumed pods, as the informers and the scheduler report them."""

    def __init__(self, ttl: float = 0.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self._clock = clock
        self.nodes: dict[str, NodeInfo] = {}
        self._pod_states: dict[str, _PodState] = {}
        self._assumed: set[str] = set()
        self._images: dict[str, tuple[ImageStateSummary, set[str]]] = {}
        self._dirty: set[str] = set()
        self._order_changed = True

    # --- nodes ------------------------------------------------------------------------------

    def _node_info(self, name: str) -> NodeInfo:
        info = self.nodes.get(name)
        if info is None:
            info = NodeInfo()
            self.nodes[name] = info
            self._order_changed = True
        self._dirty.add(name)
        return info

    def add_node(self, node: Obj) -> NodeInfo:
        name = meta(node).get("name", "")
        info = self._node_info(name)
        old = info.node if info.has_node else None
        if old is not None:
            self._remove_images(old, name)
        info.set_node(node)
        self._add_images(node, name, info)
        # the node list only changes when a node comes or moves zone; an update of a
        # known node (status, labels, taints) only replaces its NodeInfo in place
        if old is None or zone_key(old) != zone_key(node):
            self._order_changed = True
        return info

    def update_node(self, old: Obj | None, new: Obj) -> NodeInfo:
        return self.add_node(new)

    def remove_node(self, node: Obj) -> None:
        name = meta(node).get("name", "")
        info = self.nodes.get(name)
        if info is None:
            raise CacheError(f"node {name} is not found")
        if info.has_node:
            self._remove_images(info.node, name)
        info.remove_node()
        # A node with pods stays as a ghost until its pods are deleted too.
        if not info.pods:
            del self.nodes[name]
        self._dirty.add(name)
        self._order_changed = True

    def _add_images(self, node: Obj, name: str, info: NodeInfo) -> None:
        info.image_states = {}
        for names, size in _images(node):
            for image in names:
                entry = self._images.get(image)
                if entry is None:
                    entry = (ImageStateSummary(size, 0), set())
                    self._images[image] = entry
                summary, holders = entry
                holders.add(name)
                summary.num_nodes = len(holders)
                info.image_states[image] = summary

    def _remove_images(self, node: Obj, name: str) -> None:
        for names, _ in _images(node):
            for image in names:
                entry = self._images.get(image)
                if entry is None:
                    continue
                summary, holders = entry
                holders.discard(name)
                summary.num_nodes = len(holders)
                if not holders:
                    del self._images[image]

    # --- pods -------------------------------------------------------------------------------

    def _add_pod_to_node(self, pod: Obj) -> None:
        self._node_info(node_name(pod)).add_pod(PodInfo(pod))

    def _remove_pod_from_node(self, pod: Obj) -> None:
        name = node_name(pod)
        info = self.nodes.get(name)
        if info is None:
            log.warning("node %s not found when removing pod %s", name, namespaced_name(pod))
            return
        try:
            info.remove_pod(pod)
        except LookupError:
            log.warning("pod %s not found on node %s", namespaced_name(pod), name)
        self._dirty.add(name)
        if not info.pods and not info.has_node:
            del self.nodes[name]
            self._order_changed = True

    def assume_pod(self, pod: Obj) -> None:
        """Account the pod (with ``spec.nodeName`` set) on its node before it is bound."""
        key = pod_key(pod)
        if key in self._pod_states:
            raise CacheError(f"pod {namespaced_name(pod)} is in the cache, so can't be assumed")
        self._add_pod_to_node(pod)
        self._pod_states[key] = _PodState(pod)
        self._assumed.add(key)

    def finish_binding(self, pod: Obj) -> None:
        """Start the expiry clock of an assumed pod whose binding returned."""
        state = self._pod_states.get(pod_key(pod))
        if state is not None and pod_key(pod) in self._assumed:
            state.binding_finished = True
            if self.ttl > 0:
                state.deadline = self._clock() + self.ttl

    def forget_pod(self, pod: Obj) -> None:
        key = pod_key(pod)
        state = self._pod_states.get(key)
        if state is not None and node_name(state.pod) != node_name(pod):
            raise CacheError(
                f"pod {namespaced_name(pod)} was assumed on {node_name(pod)} "
                f"but assigned to {node_name(state.pod)}"
            )
        if key not in self._assumed:
            raise CacheError(f"pod {namespaced_name(pod)} wasn't assumed so cannot be forgotten")
        self._remove_pod_from_node(pod)
        del self._pod_states[key]
        self._assumed.discard(key)

    def is_assumed_pod(self, pod: Obj) -> bool:
        return pod_key(pod) in self._assumed

    def get_pod(self, pod: Obj) -> Obj | None:
        state = self._pod_states.get(pod_key(pod))
        return state.pod if state is not None else None

    def add_pod(self, pod: Obj) -> None:
        """An assigned pod from the informer: confirms an assumed pod, or is new."""
        key = pod_key(pod)
        state = self._pod_states.get(key)
        if state is not None and key in self._assumed:
            if node_name(state.pod) != node_name(pod):
                log.info("pod %s was assumed to a different node", namespaced_name(pod))
            self._remove_pod_from_node(state.pod)
            self._add_pod_to_node(pod)
            self._assumed.discard(key)
            self._pod_states[key] = _PodState(pod)
            return
        if state is not None:  # added twice: treat as an update
            self.update_pod(state.pod, pod)
            return
        self._add_pod_to_node(pod)
        self._pod_states[key] = _PodState(pod)

    def update_pod(self, old: Obj, new: Obj) -> None:
        key = pod_key(old)
        state = self._pod_states.get(key)
        if state is None or key in self._assumed:
            raise CacheError(f"pod {namespaced_name(old)} is not added to scheduler cache")
        self._remove_pod_from_node(state.pod)
        self._add_pod_to_node(new)
        state.pod = new

    def remove_pod(self, pod: Obj) -> None:
        key = pod_key(pod)
        state = self._pod_states.get(key)
        if state is None:
            raise CacheError(f"pod {namespaced_name(pod)} is not found in scheduler cache")
        self._remove_pod_from_node(state.pod)
        del self._pod_states[key]
        self._assumed.discard(key)

    def cleanup_assumed_pods(self) -> list[Obj]:
        """Forget assumed pods whose binding finished more than ``ttl`` ago."""
        now = self._clock()
        expired = []
        for key in list(self._assumed):
            state = self._pod_states[key]
            if not state.binding_finished or state.deadline is None:
                continue
            if now > state.deadline:
                log.warning("assumed pod %s expired", namespaced_name(state.pod))
                self._remove_pod_from_node(state.pod)
                del self._pod_states[key]
                self._assumed.discard(key)
                expired.append(state.pod)
        return expired

    # --- snapshots --------------------------------------------------------------------------

    def update_snapshot(self, snapshot: Snapshot) -> None:
        """Bring ``snapshot`` up to date, cloning only the nodes changed since last time."""
        if not self._dirty and not self._order_changed:
            return
        affinity_changed = False
        for name in self._dirty:
            old = snapshot.node_info_map.get(name)
            info = self.nodes.get(name)
            if info is None or not info.has_node:
                if old is not None:
                    del snapshot.node_info_map[name]
                    self._order_changed = True
                continue
            clone = info.clone()
            if old is None:
                self._order_changed = True
            elif (bool(old.pods_with_affinity) != bool(clone.pods_with_affinity)) or (
                bool(old.pods_with_required_anti_affinity)
                != bool(clone.pods_with_required_anti_affinity)
            ):
                affinity_changed = True
            snapshot.node_info_map[name] = clone
        if self._order_changed:
            snapshot.rebuild_lists(
                zone_interleaved(
                    [
                        (n, zone_key(snapshot.node_info_map[n].node))
                        for n in self.nodes
                        if n in snapshot.node_info_map
                    ]
                )
            )
        else:
            index = snapshot.index
            for name in self._dirty:
                i = index.get(name)
                if i is not None:
                    snapshot.node_info_list[i] = snapshot.node_info_map[name]
            # the lists hold the old clones: rebuild them whenever a dirty node is in them
            if affinity_changed or any(
                snapshot.node_info_map[n].pods_with_affinity
                for n in self._dirty
                if n in snapshot.node_info_map
            ):
                snapshot.rebuild_affinity_lists()
        snapshot.generation += 1
        self._dirty.clear()
        self._order_changed = False

    def node_count(self) -> int:
        return sum(1 for n in self.nodes.values() if n.has_node)

    def pod_count(self) -> int:
        return sum(len(n.pods) for n in self.nodes.values())

    def image_states(self) -> Mapping[str, ImageStateSummary]:
        return {k: v[0] for k, v in self._images.items()}
