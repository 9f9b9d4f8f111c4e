"""The scheduler's view of pods and nodes: requests, NodeInfo, PodInfo, queued pods.

Mirrors ``pkg/scheduler/framework/types.go`` (``Resource``, ``NodeInfo``, ``PodInfo``,
``AffinityTerm``, ``QueuedPodInfo``, ``HostPortInfo``, ``ImageStateSummary``) and
component-helpers ``resource/helpers.go`` ``PodRequests`` (init containers, sidecars,
pod overhead). Pods and nodes are the API's JSON dicts; everything derived from
them is computed once, when a PodInfo or NodeInfo is built.

Warning: NodeInfo objects in a snapshot are shared by every plugin in a cycle;
plugins read them and never change them (the runtime clones before simulating).
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pyk8s.api import resource
from pyk8s.scheduler.framework import selectors

Obj = Mapping[str, Any]

DEFAULT_MILLI_CPU_REQUEST = 100  # 0.1 core, schedutil.DefaultMilliCPURequest
DEFAULT_MEMORY_REQUEST = 200 * 1024 * 1024  # 200 MB, schedutil.DefaultMemoryRequest
MAX_NODE_SCORE = 100
MIN_NODE_SCORE = 0
LABEL_HOSTNAME = "kubernetes.io/hostname"
LABEL_ZONE = "topology.kubernetes.io/zone"

CPU = "cpu"
MEMORY = "memory"
EPHEMERAL_STORAGE = "ephemeral-storage"
PODS = "pods"

_generation = itertools.count(1)


def next_generation() -> int:
    return next(_generation)


# --- resource names (pkg/apis/core/v1/helper/helpers.go) ---------------------------------


def is_native_resource(name: str) -> bool:
    return "/" not in name or "kubernetes.io/" in name


def is_extended_resource_name(name: str) -> bool:
    return not (is_native_resource(name) or name.startswith("requests."))


def is_scalar_resource_name(name: str) -> bool:
    return (
        is_extended_resource_name(name)
        or name.startswith("hugepages-")
        or "kubernetes.io/" in name
        or name.startswith("attachable-volumes-")
    )


# --- requests -----------------------------------------------------------------------------

ResourceList = dict[str, int]
"""Resource name → integer amount: millicores for cpu, units (bytes, pods, devices) else."""


def _amount(name: str, q: str | int | float) -> int:
    if isinstance(q, str):
        return _parsed_amount(name == CPU, q)
    return resource.milli_value(q) if name == CPU else resource.value(q)


@functools.lru_cache(maxsize=4096)
def _parsed_amount(milli: bool, q: str) -> int:
    """A quantity string parsed once: pods repeat the same few ("100m", "500Mi")."""
    return resource.milli_value(q) if milli else resource.value(q)


def _container_requests(c: Obj, non_missing: bool) -> ResourceList:
    reqs = {
        name: _amount(name, q)
        for name, q in ((c.get("resources") or {}).get("requests") or {}).items()
    }
    if non_missing:
        reqs.setdefault(CPU, DEFAULT_MILLI_CPU_REQUEST)
        reqs.setdefault(MEMORY, DEFAULT_MEMORY_REQUEST)
    return reqs


def _add(into: ResourceList, other: Mapping[str, int]) -> None:
    for k, v in other.items():
        into[k] = into.get(k, 0) + v


def _max(into: ResourceList, other: Mapping[str, int]) -> None:
    for k, v in other.items():
        if v > into.get(k, 0) or k not in into:
            into[k] = v


def is_restartable_init_container(c: Obj) -> bool:
    return c.get("restartPolicy") == "Always"


def pod_requests(pod: Obj, *, non_missing: bool = False) -> ResourceList:
    """The pod's effective requests (``resourcehelper.PodRequests``).

    Regular containers and sidecars (restartable init containers) run together and
    are summed; each ordinary init container runs alone beside the sidecars started
    before it, and the pod needs the largest of those; pod overhead is added last.
    With ``non_missing`` a container without a cpu or memory request counts as
    100m / 200Mi, the scheduler's "non-zero" requests for spreading.
    """
    spec = pod.get("spec") or {}
    reqs: ResourceList = {}
    for c in spec.get("containers") or ():
        _add(reqs, _container_requests(c, non_missing))
    sidecars: ResourceList = {}
    init_peak: ResourceList = {}
    for c in spec.get("initContainers") or ():
        creqs = _container_requests(c, non_missing)
        if is_restartable_init_container(c):
            _add(reqs, creqs)
            _add(sidecars, creqs)
            _max(init_peak, sidecars)
        else:
            running = dict(creqs)
            _add(running, sidecars)
            _max(init_peak, running)
    _max(reqs, init_peak)
    overhead = spec.get("overhead")
    if overhead:
        _add(reqs, {name: _amount(name, q) for name, q in overhead.items()})
    return reqs


class Resource:
    """Aggregated amounts on a node: cpu in millicores, memory and storage in bytes."""

    __slots__ = ("allowed_pod_number", "ephemeral_storage", "memory", "milli_cpu", "scalar")

    def __init__(
        self,
        milli_cpu: int = 0,
        memory: int = 0,
        ephemeral_storage: int = 0,
        allowed_pod_number: int = 0,
        scalar: dict[str, int] | None = None,
    ) -> None:
        self.milli_cpu = milli_cpu
        self.memory = memory
        self.ephemeral_storage = ephemeral_storage
        self.allowed_pod_number = allowed_pod_number
        self.scalar: dict[str, int] = scalar if scalar is not None else {}

    @classmethod
    def from_list(cls, rl: Mapping[str, int]) -> Resource:
        r = cls()
        r.add(rl)
        return r

    @classmethod
    def from_quantities(cls, rl: Mapping[str, str | int | float] | None) -> Resource:
        return cls.from_list({k: _amount(k, v) for k, v in (rl or {}).items()})

    def add(self, rl: Mapping[str, int], sign: int = 1) -> None:
        for name, v in rl.items():
            if name == CPU:
                self.milli_cpu += sign * v
            elif name == MEMORY:
                self.memory += sign * v
            elif name == EPHEMERAL_STORAGE:
                self.ephemeral_storage += sign * v
            elif name == PODS:
                self.allowed_pod_number += sign * v
            elif is_scalar_resource_name(name):
                self.scalar[name] = self.scalar.get(name, 0) + sign * v

    def get(self, name: str) -> int:
        if name == CPU:
            return self.milli_cpu
        if name == MEMORY:
            return self.memory
        if name == EPHEMERAL_STORAGE:
            return self.ephemeral_storage
        if name == PODS:
            return self.allowed_pod_number
        return self.scalar.get(name, 0)

    def is_zero(self) -> bool:
        return not (self.milli_cpu or self.memory or self.ephemeral_storage or self.scalar)

    def clone(self) -> Resource:
        return Resource(
            self.milli_cpu,
            self.memory,
            self.ephemeral_storage,
            self.allowed_pod_number,
            dict(self.scalar),
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Resource):
            return NotImplemented
        return (
            self.milli_cpu == other.milli_cpu
            and self.memory == other.memory
            and self.ephemeral_storage == other.ephemeral_storage
            and self.allowed_pod_number == other.allowed_pod_number
            and {k: v for k, v in self.scalar.items() if v}
            == {k: v for k, v in other.scalar.items() if v}
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return (
            f"Resource(milli_cpu={self.milli_cpu}, memory={self.memory}, "
            f"ephemeral_storage={self.ephemeral_storage}, "
            f"allowed_pod_number={self.allowed_pod_number}, scalar={self.scalar})"
        )


# --- pods ---------------------------------------------------------------------------------


def meta(obj: Obj) -> Obj:
    m: Obj = obj.get("metadata") or {}
    return m


def pod_key(pod: Obj) -> str:
    """The cache key of a pod: its UID (``GetPodKey``), else namespace/name."""
    m = meta(pod)
    return m.get("uid") or f"{m.get('namespace', '')}/{m.get('name', '')}"


def namespaced_name(obj: Obj) -> str:
    m = meta(obj)
    return f"{m.get('namespace', '')}/{m.get('name', '')}"


def pod_priority(pod: Obj) -> int:
    """``corev1helpers.PodPriority``: spec.priority, 0 when unset."""
    p = (pod.get("spec") or {}).get("priority")
    return int(p) if p is not None else 0


def node_name(pod: Obj) -> str:
    name: str = (pod.get("spec") or {}).get("nodeName") or ""
    return name


@dataclass(frozen=True, slots=True)
class AffinityTerm:
    """A parsed PodAffinityTerm (``framework.AffinityTerm``)."""

    namespaces: frozenset[str]
    selector: selectors.LabelSelector
    topology_key: str
    namespace_selector: selectors.LabelSelector

    def matches(self, pod: Obj, ns_labels: Mapping[str, str] | None) -> bool:
        """Whether ``pod`` is one of the pods this term is about.

        ``ns_labels`` are the labels of the pod's namespace, for the term's
        namespaceSelector; pass None when they are unknown (matches by list only).
        """
        m = meta(pod)
        if m.get("namespace", "") in self.namespaces or (
            ns_labels is not None and self.namespace_selector.matches(ns_labels)
        ):
            return self.selector.matches(m.get("labels"))
        return False


@dataclass(frozen=True, slots=True)
class WeightedAffinityTerm:
    term: AffinityTerm
    weight: int


def new_affinity_term(pod: Obj, term: Obj) -> AffinityTerm:
    labels = meta(pod).get("labels") or {}
    sel = selectors.from_label_selector(term.get("labelSelector"))
    extra: list[selectors.Requirement] = []
    for key in term.get("matchLabelKeys") or ():
        if key in labels:
            extra.append((key, "in", frozenset([labels[key]])))
    for key in term.get("mismatchLabelKeys") or ():
        if key in labels:
            extra.append((key, "notin", frozenset([labels[key]])))
    if extra:
        sel = sel.add(*extra)
    nss = term.get("namespaces") or ()
    ns_sel = term.get("namespaceSelector")
    namespaces = (
        frozenset([meta(pod).get("namespace", "")])
        if not nss and ns_sel is None
        else frozenset(nss)
    )
    return AffinityTerm(
        namespaces=namespaces,
        selector=sel,
        topology_key=term.get("topologyKey", ""),
        namespace_selector=selectors.from_label_selector(ns_sel),
    )


def _terms(pod: Obj, kind: str, when: str) -> list[Obj]:
    aff = (pod.get("spec") or {}).get("affinity") or {}
    terms: list[Obj] = (aff.get(kind) or {}).get(
        when + "DuringSchedulingIgnoredDuringExecution"
    ) or []
    return terms


class PodInfo:
    """A pod with what the scheduler derives from it, computed once (``framework.PodInfo``)."""

    __slots__ = (
        "key",
        "non_zero_cpu",
        "non_zero_memory",
        "pod",
        "preferred_affinity_terms",
        "preferred_anti_affinity_terms",
        "requests",
        "required_affinity_terms",
        "required_anti_affinity_terms",
    )

    def __init__(self, pod: Obj) -> None:
        self.pod = pod
        self.key = pod_key(pod)
        self.required_affinity_terms = [
            new_affinity_term(pod, t) for t in _terms(pod, "podAffinity", "required")
        ]
        self.required_anti_affinity_terms = [
            new_affinity_term(pod, t) for t in _terms(pod, "podAntiAffinity", "required")
        ]
        self.preferred_affinity_terms = [
            WeightedAffinityTerm(
                new_affinity_term(pod, t.get("podAffinityTerm") or {}), int(t.get("weight") or 0)
            )
            for t in _terms(pod, "podAffinity", "preferred")
        ]
        self.preferred_anti_affinity_terms = [
            WeightedAffinityTerm(
                new_affinity_term(pod, t.get("podAffinityTerm") or {}), int(t.get("weight") or 0)
            )
            for t in _terms(pod, "podAntiAffinity", "preferred")
        ]
        self.requests = pod_requests(pod)
        non_zero = pod_requests(pod, non_missing=True)
        self.non_zero_cpu = non_zero.get(CPU, 0)
        self.non_zero_memory = non_zero.get(MEMORY, 0)

    @property
    def has_affinity(self) -> bool:
        aff = (self.pod.get("spec") or {}).get("affinity") or {}
        return aff.get("podAffinity") is not None or aff.get("podAntiAffinity") is not None

    def __repr__(self) -> str:
        return f"PodInfo({namespaced_name(self.pod)})"


# --- host ports ---------------------------------------------------------------------------

DEFAULT_BIND_ALL_HOST_IP = "0.0.0.0"


def container_host_ports(pod: Obj) -> list[tuple[str, str, int]]:
    """(hostIP, protocol, hostPort) of every container port with a host port.

    Only regular containers count, as upstream's ``getContainerPorts`` has it
    (sidecars' host ports are not considered by the 1.33 scheduler).
    """
    spec = pod.get("spec") or {}
    out: list[tuple[str, str, int]] = []
    for c in spec.get("containers") or ():
        for p in c.get("ports") or ():
            hp = int(p.get("hostPort") or 0)
            if hp <= 0:
                continue
            out.append(
                (p.get("hostIP") or DEFAULT_BIND_ALL_HOST_IP, p.get("protocol") or "TCP", hp)
            )
    return out


class HostPortInfo:
    """Used host ports by IP (``framework.HostPortInfo``); 0.0.0.0 conflicts with every IP."""

    __slots__ = ("_ports",)

    def __init__(self) -> None:
        self._ports: dict[str, dict[tuple[str, int], int]] = {}

    def add(self, ip: str, protocol: str, port: int) -> None:
        by_ip = self._ports.setdefault(ip, {})
        by_ip[(protocol, port)] = by_ip.get((protocol, port), 0) + 1

    def remove(self, ip: str, protocol: str, port: int) -> None:
        by_ip = self._ports.get(ip)
        if not by_ip or (protocol, port) not in by_ip:
            return
        by_ip[(protocol, port)] -= 1
        if by_ip[(protocol, port)] <= 0:
            del by_ip[(protocol, port)]
        if not by_ip:
            del self._ports[ip]

    def check_conflict(self, ip: str, protocol: str, port: int) -> bool:
        pp = (protocol, port)
        if ip == DEFAULT_BIND_ALL_HOST_IP:
            return any(pp in m for m in self._ports.values())
        for check in (ip, DEFAULT_BIND_ALL_HOST_IP):
            m = self._ports.get(check)
            if m is not None and pp in m:
                return True
        return False

    def __len__(self) -> int:
        return sum(len(m) for m in self._ports.values())

    def clone(self) -> HostPortInfo:
        c = HostPortInfo()
        c._ports = {ip: dict(m) for ip, m in self._ports.items()}
        return c


@dataclass(slots=True)
class ImageStateSummary:
    """An image's size and on how many nodes it is (``framework.ImageStateSummary``)."""

    size: int
    num_nodes: int


# --- nodes --------------------------------------------------------------------------------


class NodeInfo:
    """Node-level aggregates: the node, its pods, requested and allocatable resources."""

    __slots__ = (
        "_node",
        "allocatable",
        "generation",
        "has_node",
        "image_states",
        "labels",
        "name",
        "non_zero_requested",
        "pods",
        "pods_with_affinity",
        "pods_with_required_anti_affinity",
        "requested",
        "taints",
        "unschedulable",
        "used_ports",
    )

    def __init__(self, node: Obj | None = None, pods: Iterable[Obj | PodInfo] = ()) -> None:
        self._node: Obj | None = None
        self.has_node = False
        self.name = ""
        self.labels: Mapping[str, str] = {}
        # read from the node once (set_node), not per pod and node in the filters
        self.taints: list[Obj] = []
        self.unschedulable = False
        self.pods: list[PodInfo] = []
        self.pods_with_affinity: list[PodInfo] = []
        self.pods_with_required_anti_affinity: list[PodInfo] = []
        self.used_ports = HostPortInfo()
        self.requested = Resource()
        self.non_zero_requested = Resource()
        self.allocatable = Resource()
        self.image_states: dict[str, ImageStateSummary] = {}
        self.generation = next_generation()
        if node is not None:
            self.set_node(node)
        for p in pods:
            self.add_pod(p)

    @property
    def node(self) -> Obj:
        if self._node is None:
            raise LookupError("node not found")
        return self._node

    def set_node(self, node: Obj) -> None:
        self._node = node
        self.has_node = True
        self.name = str(meta(node).get("name", ""))
        self.labels = meta(node).get("labels") or {}
        spec = node.get("spec") or {}
        self.taints = spec.get("taints") or []
        self.unschedulable = bool(spec.get("unschedulable"))
        status = node.get("status") or {}
        self.allocatable = Resource.from_quantities(status.get("allocatable"))
        self.generation = next_generation()

    def remove_node(self) -> None:
        self._node = None
        self.has_node = False
        self.labels = {}
        self.taints = []
        self.unschedulable = False
        self.generation = next_generation()

    def add_pod(self, pod: Obj | PodInfo) -> None:
        info = pod if isinstance(pod, PodInfo) else PodInfo(pod)
        self.pods.append(info)
        if info.has_affinity:
            self.pods_with_affinity.append(info)
        if info.required_anti_affinity_terms:
            self.pods_with_required_anti_affinity.append(info)
        self._update(info, 1)

    def remove_pod(self, pod: Obj) -> PodInfo:
        """Remove a pod by key; raises LookupError when it is not on this node."""
        key = pod_key(pod)
        for i, info in enumerate(self.pods):
            if info.key == key:
                del self.pods[i]
                break
        else:
            raise LookupError(f"no corresponding pod {namespaced_name(pod)} in pods of node")
        self.pods_with_affinity = [p for p in self.pods_with_affinity if p.key != key]
        self.pods_with_required_anti_affinity = [
            p for p in self.pods_with_required_anti_affinity if p.key != key
        ]
        self._update(info, -1)
        return info

    def _update(self, info: PodInfo, sign: int) -> None:
        self.requested.add(info.requests, sign)
        self.non_zero_requested.milli_cpu += sign * info.non_zero_cpu
        self.non_zero_requested.memory += sign * info.non_zero_memory
        for ip, proto, port in container_host_ports(info.pod):
            if sign > 0:
                self.used_ports.add(ip, proto, port)
            else:
                self.used_ports.remove(ip, proto, port)
        self.generation = next_generation()

    def clone(self) -> NodeInfo:
        c = NodeInfo.__new__(NodeInfo)
        c._node = self._node
        c.has_node = self.has_node
        c.name = self.name
        c.labels = self.labels
        c.taints = self.taints
        c.unschedulable = self.unschedulable
        c.pods = list(self.pods)
        c.pods_with_affinity = list(self.pods_with_affinity)
        c.pods_with_required_anti_affinity = list(self.pods_with_required_anti_affinity)
        c.used_ports = self.used_ports.clone()
        c.requested = self.requested.clone()
        c.non_zero_requested = self.non_zero_requested.clone()
        c.allocatable = self.allocatable.clone()
        c.image_states = dict(self.image_states)
        c.generation = self.generation
        return c

    def __repr__(self) -> str:
        return f"NodeInfo({self.name!r}, pods={[namespaced_name(p.pod) for p in self.pods]})"


# --- the queue's view of a pod ------------------------------------------------------------


@dataclass(slots=True)
class QueuedPodInfo:
    """A pod waiting in the scheduling queue (``framework.QueuedPodInfo``)."""

    pod_info: PodInfo
    timestamp: float = 0.0
    attempts: int = 0
    initial_attempt_timestamp: float | None = None
    unschedulable_plugins: set[str] = field(default_factory=set)
    pending_plugins: set[str] = field(default_factory=set)
    gated: bool = False
    gating_plugin: str = ""

    @property
    def pod(self) -> Obj:
        return self.pod_info.pod
