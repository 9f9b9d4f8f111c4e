"""The scheduling framework's contract: status codes, cycle state, extension points.

Mirrors kube-scheduler ``framework/interface.go`` (``Code``, ``Status``, the plugin
interfaces, ``Handle``) and ``framework/cycle_state.go``. Plugins return
``Status | None``; ``None`` means Success, as a nil ``*Status`` does upstream.

Extension points run in this order for one pod: PreEnqueue (before the pod enters
the active queue), QueueSort (orders the queue), PreFilter, Filter (per node),
PostFilter (only when no node fits: preemption), PreScore, Score (per node),
NormalizeScore, Reserve, Permit, then in the binding cycle PreBind, Bind, PostBind.
Filter and Score are synchronous: they read the NodeInfo snapshot only.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from pyk8s.scheduler.framework.runtime import WaitingPod
    from pyk8s.scheduler.framework.types import NodeInfo, QueuedPodInfo

Obj = Mapping[str, Any]


class Code(enum.IntEnum):
    """A plugin's verdict (``framework.Code``)."""

    SUCCESS = 0
    ERROR = 1
    """An internal error: the pod goes back to the queue with backoff."""
    UNSCHEDULABLE = 2
    """The pod does not fit, but preemption may help."""
    UNSCHEDULABLE_AND_UNRESOLVABLE = 3
    """The pod does not fit and preemption cannot help on this node."""
    WAIT = 4
    """A Permit plugin holds the pod until it is allowed or rejected."""
    SKIP = 5
    """PreFilter/PreScore: the plugin has nothing to do for this pod; Bind: not my pod."""
    PENDING = 6
    """The pod waits for something outside the scheduler; preemption cannot help."""

    def __str__(self) -> str:
        return _CODE_NAMES[self]


_CODE_NAMES = {
    Code.SUCCESS: "Success",
    Code.ERROR: "Error",
    Code.UNSCHEDULABLE: "Unschedulable",
    Code.UNSCHEDULABLE_AND_UNRESOLVABLE: "UnschedulableAndUnresolvable",
    Code.WAIT: "Wait",
    Code.SKIP: "Skip",
    Code.PENDING: "Pending",
}

_REJECTED = frozenset({Code.UNSCHEDULABLE, Code.UNSCHEDULABLE_AND_UNRESOLVABLE, Code.PENDING})


class Status:
    """A plugin's result: a code, human-readable reasons, maybe an error, the plugin's name."""

    __slots__ = ("code", "error", "plugin", "reasons")

    def __init__(
        self, code: Code = Code.SUCCESS, *reasons: str, error: BaseException | None = None
    ) -> None:
        self.code = code
        self.reasons: list[str] = list(reasons)
        self.error = error
        self.plugin = ""
        if error is not None and not self.reasons:
            self.reasons = [str(error)]

    @classmethod
    def as_status(cls, err: BaseException) -> Status:
        """An Error status wrapping an exception (``framework.AsStatus``)."""
        return cls(Code.ERROR, error=err)

    def message(self) -> str:
        return ", ".join(self.reasons)

    def with_plugin(self, plugin: str) -> Status:
        self.plugin = plugin
        return self

    def is_success(self) -> bool:
        return self.code == Code.SUCCESS

    def is_wait(self) -> bool:
        return self.code == Code.WAIT

    def is_skip(self) -> bool:
        return self.code == Code.SKIP

    def is_rejected(self) -> bool:
        """Unschedulable, UnschedulableAndUnresolvable or Pending."""
        return self.code in _REJECTED

    def as_error(self) -> BaseException:
        return self.error if self.error is not None else RuntimeError(self.message())

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Status):
            return NotImplemented
        return self.code == other.code and self.reasons == other.reasons

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        plugin = f", plugin={self.plugin!r}" if self.plugin else ""
        return f"Status({self.code!s}, {self.reasons!r}{plugin})"


def is_success(status: Status | None) -> bool:
    return status is None or status.code == Code.SUCCESS


def code_of(status: Status | None) -> Code:
    return Code.SUCCESS if status is None else status.code


class CycleState:
    """Data plugins share within one scheduling cycle (``framework.CycleState``).

    Keys are strings (by convention ``"PreFilter" + plugin name``); values are
    whatever the plugin writes. ``clone`` is shallow except for values that have a
    ``clone()`` method, which preemption uses to simulate removing pods.
    """

    __slots__ = ("_data", "skip_filter_plugins", "skip_score_plugins")

    def __init__(self) -> None:
        self._data: dict[str, Any] = {}
        self.skip_filter_plugins: set[str] = set()
        self.skip_score_plugins: set[str] = set()

    def read(self, key: str) -> Any:
        try:
            return self._data[key]
        except KeyError:
            raise KeyError(f"{key!r} not found") from None

    def get(self, key: str) -> Any:
        return self._data.get(key)

    def write(self, key: str, value: Any) -> None:
        self._data[key] = value

    def delete(self, key: str) -> None:
        self._data.pop(key, None)

    def clone(self) -> CycleState:
        c = CycleState()
        c._data = {k: (v.clone() if hasattr(v, "clone") else v) for k, v in self._data.items()}
        c.skip_filter_plugins = set(self.skip_filter_plugins)
        c.skip_score_plugins = set(self.skip_score_plugins)
        return c


class NodeToStatus:
    """The status of each node that was filtered out, plus one for the nodes not listed."""

    __slots__ = ("_absent", "_statuses")

    def __init__(self, statuses: dict[str, Status] | None = None) -> None:
        self._statuses: dict[str, Status] = dict(statuses or {})
        self._absent = Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE)

    def get(self, node_name: str) -> Status:
        return self._statuses.get(node_name, self._absent)

    def set(self, node_name: str, status: Status) -> None:
        self._statuses[node_name] = status

    def absent_nodes_status(self) -> Status:
        return self._absent

    def set_absent_nodes_status(self, status: Status) -> None:
        self._absent = status

    def __len__(self) -> int:
        return len(self._statuses)

    def __iter__(self) -> Iterator[str]:
        return iter(self._statuses)

    def items(self) -> Iterator[tuple[str, Status]]:
        return iter(self._statuses.items())

    def as_dict(self) -> dict[str, Status]:
        return dict(self._statuses)


@dataclass(slots=True)
class PreFilterResult:
    """Nodes a PreFilter plugin already knows are the only candidates (None: all nodes)."""

    node_names: set[str] | None = None

    def all_nodes(self) -> bool:
        return self.node_names is None

    def merge(self, other: PreFilterResult | None) -> PreFilterResult:
        if other is None or other.all_nodes():
            return PreFilterResult(None if self.all_nodes() else set(self.node_names or ()))
        if self.all_nodes():
            return PreFilterResult(set(other.node_names or ()))
        return PreFilterResult((self.node_names or set()) & (other.node_names or set()))


@dataclass(slots=True)
class PostFilterResult:
    """What PostFilter decided: the node the pod is nominated to (``""``: clear it)."""

    nominated_node_name: str | None = None


@dataclass(slots=True)
class NodeScore:
    name: str
    score: int


@dataclass(slots=True)
class PluginScore:
    name: str
    score: int


@dataclass(slots=True)
class NodePluginScores:
    """A node's weighted score per plugin and in total (``framework.NodePluginScores``)."""

    name: str
    scores: list[PluginScore] = field(default_factory=list)
    total_score: int = 0


# --- cluster events (framework/events.go) ---------------------------------------------------


class ActionType(enum.IntFlag):
    ADD = 1
    DELETE = 2
    UPDATE_NODE_ALLOCATABLE = 4
    UPDATE_NODE_LABEL = 8
    UPDATE_NODE_TAINT = 16
    UPDATE_NODE_CONDITION = 32
    UPDATE_NODE_ANNOTATION = 64
    UPDATE_POD_LABEL = 128
    UPDATE_POD_SCALE_DOWN = 256
    UPDATE_POD_TOLERATION = 512
    UPDATE_POD_SCHEDULING_GATES_ELIMINATED = 1024
    UPDATE = (
        UPDATE_NODE_ALLOCATABLE
        | UPDATE_NODE_LABEL
        | UPDATE_NODE_TAINT
        | UPDATE_NODE_CONDITION
        | UPDATE_NODE_ANNOTATION
        | UPDATE_POD_LABEL
        | UPDATE_POD_SCALE_DOWN
        | UPDATE_POD_TOLERATION
        | UPDATE_POD_SCHEDULING_GATES_ELIMINATED
    )
    ALL = ADD | DELETE | UPDATE


class EventResource(enum.StrEnum):
    POD = "Pod"
    ASSIGNED_POD = "AssignedPod"
    UNSCHEDULED_POD = "UnscheduledPod"
    NODE = "Node"
    NAMESPACE = "Namespace"
    SERVICE = "Service"
    PERSISTENT_VOLUME = "PersistentVolume"
    PERSISTENT_VOLUME_CLAIM = "PersistentVolumeClaim"
    WILDCARD = "*"


@dataclass(frozen=True, slots=True)
class ClusterEvent:
    resource: EventResource
    action: ActionType
    label: str = ""

    def matches(self, incoming: ClusterEvent) -> bool:
        """Whether ``incoming`` is this registered event or a more specific one."""
        if self.resource == EventResource.WILDCARD and self.action == ActionType.ALL:
            return True
        res_ok = self.resource == incoming.resource or (
            self.resource == EventResource.POD
            and incoming.resource in (EventResource.ASSIGNED_POD, EventResource.UNSCHEDULED_POD)
        )
        return res_ok and bool(self.action & incoming.action)


class QueueingHint(enum.Enum):
    QUEUE = "Queue"
    SKIP = "QueueSkip"


QueueingHintFn = Callable[[Obj, Obj | None, Obj | None], QueueingHint]
"""(pod waiting, old object, new object) → whether the event may make the pod schedulable."""


@dataclass(frozen=True, slots=True)
class ClusterEventWithHint:
    event: ClusterEvent
    hint: QueueingHintFn | None = None


# --- the extension points ------------------------------------------------------------------


class Plugin(Protocol):
    name: str


@runtime_checkable
class PreEnqueuePlugin(Plugin, Protocol):
    def pre_enqueue(self, pod: Obj) -> Status | None:
        """Whether the pod may enter the active queue now (e.g. no scheduling gates)."""


@runtime_checkable
class QueueSortPlugin(Plugin, Protocol):
    def less(self, a: QueuedPodInfo, b: QueuedPodInfo) -> bool:
        """Whether ``a`` is scheduled before ``b``."""


class PreFilterExtensions(Protocol):
    def add_pod(
        self, state: CycleState, pod: Obj, pod_to_add: Obj, node_info: NodeInfo
    ) -> Status | None:
        """Update the pre-computed state as if ``pod_to_add`` ran on ``node_info``."""

    def remove_pod(
        self, state: CycleState, pod: Obj, pod_to_remove: Obj, node_info: NodeInfo
    ) -> Status | None:
        """Update the pre-computed state as if ``pod_to_remove`` left ``node_info``."""


@runtime_checkable
class PreFilterPlugin(Plugin, Protocol):
    def pre_filter(
        self, state: CycleState, pod: Obj, nodes: Sequence[NodeInfo]
    ) -> tuple[PreFilterResult | None, Status | None]:
        """Pre-compute per-pod state; may narrow the candidate nodes or reject the pod."""

    def pre_filter_extensions(self) -> PreFilterExtensions | None:
        """The incremental add/remove hooks, or None when the state does not depend on pods."""


@runtime_checkable
class FilterPlugin(Plugin, Protocol):
    def filter(self, state: CycleState, pod: Obj, node_info: NodeInfo) -> Status | None:
        """Whether the pod can run on this node; Unschedulable(+reasons) when not."""


@runtime_checkable
class PostFilterPlugin(Plugin, Protocol):
    async def post_filter(
        self, state: CycleState, pod: Obj, filtered: NodeToStatus
    ) -> tuple[PostFilterResult | None, Status | None]:
        """Called when no node fits (``filtered``: node → why); preemption lives here."""


@runtime_checkable
class PreScorePlugin(Plugin, Protocol):
    def pre_score(self, state: CycleState, pod: Obj, nodes: Sequence[NodeInfo]) -> Status | None:
        """Pre-compute per-pod scoring state over the feasible nodes; Skip to opt out."""


class ScoreExtensions(Protocol):
    def normalize_score(
        self, state: CycleState, pod: Obj, scores: list[NodeScore]
    ) -> Status | None:
        """Rescale this plugin's raw scores, in place, into [0, 100]."""


@runtime_checkable
class ScorePlugin(Plugin, Protocol):
    def score(self, state: CycleState, pod: Obj, node_info: NodeInfo) -> tuple[int, Status | None]:
        """A raw score for the node; normalized afterwards when the plugin has extensions."""

    def score_extensions(self) -> ScoreExtensions | None: ...


@runtime_checkable
class ReservePlugin(Plugin, Protocol):
    def reserve(self, state: CycleState, pod: Obj, node_name: str) -> Status | None:
        """Claim resources for the pod on the chosen node before binding."""

    def unreserve(self, state: CycleState, pod: Obj, node_name: str) -> None:
        """Undo ``reserve``; must be idempotent and never fail."""


@runtime_checkable
class PermitPlugin(Plugin, Protocol):
    def permit(self, state: CycleState, pod: Obj, node_name: str) -> tuple[Status | None, float]:
        """Allow, reject, or Wait (with a timeout in seconds) before binding."""


@runtime_checkable
class PreBindPlugin(Plugin, Protocol):
    async def pre_bind(self, state: CycleState, pod: Obj, node_name: str) -> Status | None:
        """Work that must finish before the binding (volumes, claims)."""


@runtime_checkable
class BindPlugin(Plugin, Protocol):
    async def bind(self, state: CycleState, pod: Obj, node_name: str) -> Status | None:
        """Bind the pod to the node; Skip lets the next bind plugin do it."""


@runtime_checkable
class PostBindPlugin(Plugin, Protocol):
    async def post_bind(self, state: CycleState, pod: Obj, node_name: str) -> None:
        """Informational: the pod was bound."""


@runtime_checkable
class EnqueueExtensions(Plugin, Protocol):
    def events_to_register(self) -> list[ClusterEventWithHint]:
        """The cluster events that may make a pod this plugin rejected schedulable."""


# --- what plugins may use ------------------------------------------------------------------


class NodeInfoLister(Protocol):
    """The snapshot of the cluster for one scheduling cycle (``framework.NodeInfoLister``)."""

    def list(self) -> Sequence[NodeInfo]: ...

    def get(self, node_name: str) -> NodeInfo:
        """Raises KeyError for an unknown node."""

    def have_pods_with_affinity(self) -> Sequence[NodeInfo]: ...

    def have_pods_with_required_anti_affinity(self) -> Sequence[NodeInfo]: ...


class ObjectLister(Protocol):
    """Read access to one resource of the informer cache (the client-go lister)."""

    def list(self, namespace: str | None = None) -> Iterable[Obj]: ...

    def get(self, namespace: str, name: str) -> Obj | None: ...


class Binder(Protocol):
    """The ``pods/binding`` subresource (POST a v1 Binding)."""

    async def bind(self, binding: Obj) -> None: ...


class PodDeleter(Protocol):
    """Deletes a pod gracefully (preemption's victims)."""

    async def delete_pod(self, namespace: str, name: str, uid: str) -> None: ...


class PodStatusUpdater(Protocol):
    """Patches pod status: the PodScheduled condition and nominatedNodeName."""

    async def update_pod_status(
        self, pod: Obj, condition: Obj | None, nominated_node_name: str | None
    ) -> None: ...


class EventRecorder(Protocol):
    """Records a core/v1 Event about an object (``events.EventRecorder.Eventf``)."""

    def event(
        self, obj: Obj, event_type: str, reason: str, action: str, message: str, /
    ) -> None: ...


class Handle(Protocol):
    """What the framework gives plugins (``framework.Handle``)."""

    def snapshot(self) -> NodeInfoLister: ...

    def lister(self, resource: str) -> ObjectLister:
        """An informer-backed lister: services, replicasets, statefulsets,
        replicationcontrollers, namespaces, priorityclasses, pods."""

    @property
    def binder(self) -> Binder: ...

    @property
    def pod_deleter(self) -> PodDeleter: ...

    @property
    def status_updater(self) -> PodStatusUpdater: ...

    @property
    def recorder(self) -> EventRecorder: ...

    def nominated_pods_for_node(self, node_name: str) -> Sequence[Obj]: ...

    def get_waiting_pod(self, uid: str) -> WaitingPod | None: ...

    def run_pre_filter_extension_add_pod(
        self, state: CycleState, pod: Obj, to_add: Obj, node_info: NodeInfo
    ) -> Status | None: ...

    def run_pre_filter_extension_remove_pod(
        self, state: CycleState, pod: Obj, to_remove: Obj, node_info: NodeInfo
    ) -> Status | None: ...

    def run_filter_plugins_with_nominated_pods(
        self, state: CycleState, pod: Obj, node_info: NodeInfo
    ) -> Status | None: ...
