"""The framework: one profile's enabled plugins, run per extension point.

Mirrors ``pkg/scheduler/framework/runtime/framework.go`` (``frameworkImpl``): each
plugin is built once from the registry with its args, listed under the extension
points it is enabled for, and the ``run_*`` methods apply upstream's rules: PreFilter
results are intersected and a Skip exempts the plugin from Filter; Filter stops at
the first rejecting plugin; scores are normalized, checked to be in [0, 100] and
multiplied by the plugin's weight; Bind plugins are tried in order until one does
not Skip. The framework is also the ``Handle`` plugins receive.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pyk8s.scheduler.framework import interface as fw
from pyk8s.scheduler.framework.interface import Code, CycleState, Status
from pyk8s.scheduler.framework.types import (
    MAX_NODE_SCORE,
    MIN_NODE_SCORE,
    NodeInfo,
    Obj,
    QueuedPodInfo,
    pod_key,
    pod_priority,
)

log = logging.getLogger(__name__)

EXTENSION_POINTS = (
    "preEnqueue",
    "queueSort",
    "preFilter",
    "filter",
    "postFilter",
    "preScore",
    "score",
    "reserve",
    "permit",
    "preBind",
    "bind",
    "postBind",
)

_PROTOCOLS: dict[str, type] = {
    "preEnqueue": fw.PreEnqueuePlugin,
    "queueSort": fw.QueueSortPlugin,
    "preFilter": fw.PreFilterPlugin,
    "filter": fw.FilterPlugin,
    "postFilter": fw.PostFilterPlugin,
    "preScore": fw.PreScorePlugin,
    "score": fw.ScorePlugin,
    "reserve": fw.ReservePlugin,
    "permit": fw.PermitPlugin,
    "preBind": fw.PreBindPlugin,
    "bind": fw.BindPlugin,
    "postBind": fw.PostBindPlugin,
}

PluginFactory = Callable[[Mapping[str, Any] | None, fw.Handle], Any]

MAX_PERMIT_TIMEOUT = 15 * 60.0


@dataclass
class PluginSet:
    """Enabled (name, weight) and disabled names for one extension point."""

    enabled: list[tuple[str, int]] = field(default_factory=list)
    disabled: list[str] = field(default_factory=list)


class FrameworkError(ValueError):
    """A profile that cannot be built (unknown plugin, plugin lacking an extension point)."""


@dataclass
class Seams:
    """Everything outside the scheduler a profile's plugins may use; fakes in tests."""

    binder: fw.Binder
    pod_deleter: fw.PodDeleter
    status_updater: fw.PodStatusUpdater
    recorder: fw.EventRecorder
    listers: Mapping[str, fw.ObjectLister] = field(default_factory=dict)
    nominated_pods: Callable[[str], Sequence[Obj]] = lambda _node: ()
    any_nominated: Callable[[], bool] = lambda: False


class _EmptyLister:
    def list(self, namespace: str | None = None) -> list[Obj]:
        return []

    def get(self, namespace: str, name: str) -> Obj | None:
        return None


class _EmptySnapshot:
    def list(self) -> Sequence[NodeInfo]:
        return []

    def get(self, node_name: str) -> NodeInfo:
        raise KeyError(node_name)

    def have_pods_with_affinity(self) -> Sequence[NodeInfo]:
        return []

    def have_pods_with_required_anti_affinity(self) -> Sequence[NodeInfo]:
        return []


class WaitingPod:
    """A pod a Permit plugin told to Wait (``framework.waitingPod``)."""

    def __init__(self, pod: Obj, pending: Mapping[str, float]) -> None:
        self.pod = pod
        self.pending: set[str] = set(pending)
        self.timeouts = dict(pending)
        self.result: asyncio.Future[Status | None] = asyncio.get_running_loop().create_future()

    def allow(self, plugin: str) -> None:
        self.pending.discard(plugin)
        if not self.pending and not self.result.done():
            self.result.set_result(None)

    def reject(self, plugin: str, message: str) -> None:
        if not self.result.done():
            self.result.set_result(Status(Code.UNSCHEDULABLE, message).with_plugin(plugin))


class Framework:
    """One scheduling profile: plugin instances per extension point, and the Handle."""

    def __init__(
        self,
        profile_name: str,
        plugins: Mapping[str, PluginSet | Sequence[tuple[str, int]]],
        plugin_args: Mapping[str, Mapping[str, Any]],
        registry: Mapping[str, PluginFactory],
        seams: Seams,
        *,
        percentage_of_nodes_to_score: int | None = None,
    ) -> None:
        self.profile_name = profile_name
        self.percentage_of_nodes_to_score = percentage_of_nodes_to_score
        self.keep_plugin_scores = False
        self.use_batch = True
        """Use plugins' optional ``filter_nodes``/``score_nodes``; tests compare both paths."""
        self.seams = seams
        self._snapshot: fw.NodeInfoLister = _EmptySnapshot()
        self.waiting_pods: dict[str, WaitingPod] = {}
        self.plugins: dict[str, Any] = {}
        self.weights: dict[str, int] = {}
        self.points: dict[str, list[Any]] = {p: [] for p in EXTENSION_POINTS}
        sets = {
            point: (ps if isinstance(ps, PluginSet) else PluginSet(list(ps)))
            for point, ps in plugins.items()
        }
        for point in sets:
            if point not in _PROTOCOLS and point != "multiPoint":
                raise FrameworkError(f'unknown extension point "{point}"')
        multi = sets.get("multiPoint", PluginSet())
        wanted = [name for name, _ in multi.enabled] + [
            name for point in EXTENSION_POINTS for name, _ in sets.get(point, PluginSet()).enabled
        ]
        for name in dict.fromkeys(wanted):
            factory = registry.get(name)
            if factory is None:
                raise FrameworkError(f'plugin "{name}" does not exist')
            try:
                self.plugins[name] = factory(plugin_args.get(name), self)
            except (ValueError, TypeError, KeyError) as e:
                raise FrameworkError(f'initializing plugin "{name}": {e}') from e
        for name, weight in multi.enabled:
            if weight < 0:
                raise FrameworkError(f'score plugin "{name}" has a negative weight')
            if isinstance(self.plugins[name], fw.ScorePlugin):
                self.weights[name] = weight or 1
        for point in EXTENSION_POINTS:
            self.points[point] = self._expand(point, sets.get(point, PluginSet()), multi)
        if len(self.points["queueSort"]) > 1:
            raise FrameworkError("only one queue sort plugin can be enabled")
        if not self.points["bind"] and (multi.enabled or "bind" in sets):
            raise FrameworkError("at least one bind plugin is needed")

    def _expand(self, point: str, ps: PluginSet, multi: PluginSet) -> list[Any]:
        """The plugins of one extension point, as upstream's expandMultiPointPlugins orders them:
        explicit re-configurations of multiPoint plugins, then the other multiPoint
        plugins, then the remaining explicit ones."""
        proto = _PROTOCOLS[point]
        explicit = [name for name, _ in ps.enabled]
        if len(set(explicit)) != len(explicit):
            dup = next(n for n in explicit if explicit.count(n) > 1)
            raise FrameworkError(f'plugin "{dup}" already registered as "{point}"')
        for name, weight in ps.enabled:
            if not isinstance(self.plugins[name], proto):
                raise FrameworkError(f'plugin "{name}" does not extend {point} plugin')
            if point == "score":
                if weight < 0:
                    raise FrameworkError(f'score plugin "{name}" has a negative weight')
                self.weights[name] = weight or self.weights.get(name) or 1
        disabled = set(ps.disabled)
        if "*" in disabled:
            return [self.plugins[n] for n in explicit]
        overrides: list[str] = []
        from_multi: list[str] = []
        for name, _ in multi.enabled:
            if not isinstance(self.plugins[name], proto) or name in disabled:
                continue
            if name in explicit:
                overrides.append(name)
                continue
            if name in from_multi:
                raise FrameworkError(f'plugin "{name}" already registered as "{point}"')
            from_multi.append(name)
        ordered = [n for n in explicit if n in overrides] + from_multi
        ordered += [n for n in explicit if n not in overrides]
        return [self.plugins[n] for n in ordered]

    # --- Handle -----------------------------------------------------------------------------

    def snapshot(self) -> fw.NodeInfoLister:
        return self._snapshot

    def set_snapshot(self, snapshot: fw.NodeInfoLister) -> None:
        self._snapshot = snapshot

    def lister(self, resource: str) -> fw.ObjectLister:
        return self.seams.listers.get(resource) or _EmptyLister()

    @property
    def binder(self) -> fw.Binder:
        return self.seams.binder

    @property
    def pod_deleter(self) -> fw.PodDeleter:
        return self.seams.pod_deleter

    @property
    def status_updater(self) -> fw.PodStatusUpdater:
        return self.seams.status_updater

    @property
    def recorder(self) -> fw.EventRecorder:
        return self.seams.recorder

    def nominated_pods_for_node(self, node_name: str) -> Sequence[Obj]:
        return self.seams.nominated_pods(node_name)

    # --- queue ------------------------------------------------------------------------------

    def run_pre_enqueue_plugins(self, pod: Obj) -> Status | None:
        for pl in self.points["preEnqueue"]:
            s: Status | None = pl.pre_enqueue(pod)
            if s is not None and not s.is_success():
                s.with_plugin(pl.name)
                if not s.is_rejected():
                    return Status(
                        Code.ERROR, f'running PreEnqueue plugin "{pl.name}": {s.message()}'
                    )
                return s
        return None

    def queue_sort_less(self) -> Callable[[QueuedPodInfo, QueuedPodInfo], bool]:
        if not self.points["queueSort"]:
            return lambda a, b: a.timestamp < b.timestamp
        less: Callable[[QueuedPodInfo, QueuedPodInfo], bool] = self.points["queueSort"][0].less
        return less

    def events_to_register(self) -> dict[str, list[fw.ClusterEventWithHint]]:
        """plugin name → the events that may make pods it rejected schedulable."""
        out: dict[str, list[fw.ClusterEventWithHint]] = {}
        for name, pl in self.plugins.items():
            if isinstance(pl, fw.EnqueueExtensions):
                out[name] = pl.events_to_register()
            else:  # a plugin that says nothing is woken by everything
                out[name] = [
                    fw.ClusterEventWithHint(
                        fw.ClusterEvent(fw.EventResource.WILDCARD, fw.ActionType.ALL)
                    )
                ]
        return out

    # --- filtering --------------------------------------------------------------------------

    def has_filter_plugins(self) -> bool:
        return bool(self.points["filter"])

    def has_score_plugins(self) -> bool:
        return bool(self.points["score"])

    def has_post_filter_plugins(self) -> bool:
        return bool(self.points["postFilter"])

    def run_pre_filter_plugins(
        self, state: CycleState, pod: Obj, nodes: Sequence[NodeInfo]
    ) -> tuple[fw.PreFilterResult | None, Status | None, list[str]]:
        result: fw.PreFilterResult | None = None
        with_nodes: list[str] = []
        skipped: set[str] = set()
        for pl in self.points["preFilter"]:
            r, s = pl.pre_filter(state, pod, nodes)
            if s is not None and s.is_skip():
                skipped.add(pl.name)
                continue
            if s is not None and not s.is_success():
                s.with_plugin(pl.name)
                if s.is_rejected():
                    return None, s, []
                return (
                    None,
                    Status(
                        Code.ERROR,
                        f'running PreFilter plugin "{pl.name}": {s.message()}',
                        error=s.error,
                    ).with_plugin(pl.name),
                    [],
                )
            if r is not None and not r.all_nodes():
                with_nodes.append(pl.name)
            result = r if result is None else result.merge(r)
            if result is not None and not result.all_nodes() and not result.node_names:
                if len(with_nodes) == 1:
                    msg = f"node(s) didn't satisfy plugin {with_nodes[0]}"
                else:
                    msg = (
                        f"node(s) didn't satisfy plugin(s) [{' '.join(with_nodes)}] simultaneously"
                    )
                return (
                    result,
                    Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, msg),
                    with_nodes,
                )
        state.skip_filter_plugins = skipped
        return result, None, with_nodes

    def run_pre_filter_extension_add_pod(
        self, state: CycleState, pod: Obj, to_add: Obj, node_info: NodeInfo
    ) -> Status | None:
        for pl in self.points["preFilter"]:
            if pl.name in state.skip_filter_plugins:
                continue
            ext = pl.pre_filter_extensions()
            if ext is None:
                continue
            s: Status | None = ext.add_pod(state, pod, to_add, node_info)
            if s is not None and not s.is_success():
                return Status(Code.ERROR, f'running AddPod on PreFilter plugin "{pl.name}"')
        return None

    def run_pre_filter_extension_remove_pod(
        self, state: CycleState, pod: Obj, to_remove: Obj, node_info: NodeInfo
    ) -> Status | None:
        for pl in self.points["preFilter"]:
            if pl.name in state.skip_filter_plugins:
                continue
            ext = pl.pre_filter_extensions()
            if ext is None:
                continue
            s: Status | None = ext.remove_pod(state, pod, to_remove, node_info)
            if s is not None and not s.is_success():
                return Status(Code.ERROR, f'running RemovePod on PreFilter plugin "{pl.name}"')
        return None

    def run_filter_plugins(self, state: CycleState, pod: Obj, node_info: NodeInfo) -> Status | None:
        skip = state.skip_filter_plugins
        for pl in self.points["filter"]:
            if skip and pl.name in skip:
                continue
            s: Status | None = pl.filter(state, pod, node_info)
            if s is not None and s.code != Code.SUCCESS:
                if not s.is_rejected():
                    s = Status(
                        Code.ERROR,
                        f'running "{pl.name}" filter plugin: {s.message()}',
                        error=s.error,
                    )
                return s.with_plugin(pl.name)
        return None

    def run_filter_plugins_batch(
        self, state: CycleState, pod: Obj, nodes: Sequence[NodeInfo]
    ) -> list[Status | None]:
        """``run_filter_plugins_with_nominated_pods`` for many nodes, plugin by plugin.

        The result is the same as filtering node by node (each node gets the status
        of the first plugin rejecting it); plugins with a ``filter_nodes`` method see
        all still-feasible nodes at once, which is where Python spends less per node.
        Nodes with nominated pods take the per-node path.
        """
        results: list[Status | None] = [None] * len(nodes)
        if not self.seams.any_nominated():
            alive = list(range(len(nodes)))
        else:
            alive = []
            for i, info in enumerate(nodes):
                if self.nominated_pods_for_node(info.name):
                    results[i] = self.run_filter_plugins_with_nominated_pods(state, pod, info)
                else:
                    alive.append(i)
        skip = state.skip_filter_plugins
        for pl in self.points["filter"]:
            if not alive:
                break
            if skip and pl.name in skip:
                continue
            batch = getattr(pl, "filter_nodes", None) if self.use_batch else None
            if batch is not None:
                statuses: list[Status | None] = batch(state, pod, [nodes[i] for i in alive])
            else:
                statuses = [pl.filter(state, pod, nodes[i]) for i in alive]
            if statuses.count(None) == len(statuses):
                continue  # every node passed: the usual case, checked in C
            still: list[int] = []
            for i, st in zip(alive, statuses, strict=True):
                if st is None or st.code == Code.SUCCESS:
                    still.append(i)
                    continue
                if not st.is_rejected():
                    results[i] = Status(
                        Code.ERROR,
                        f'running "{pl.name}" filter plugin: {st.message()}',
                        error=st.error,
                    ).with_plugin(pl.name)
                else:
                    results[i] = st.with_plugin(pl.name)
            alive = still
        return results

    def run_filter_plugins_with_nominated_pods(
        self, state: CycleState, pod: Obj, node_info: NodeInfo
    ) -> Status | None:
        """Filter as if the pods nominated to this node with priority >= ours were there.

        Like upstream, the node must pass both with and without those pods (some
        filters, such as anti-affinity, can only get stricter when pods are removed).
        """
        nominated = self.nominated_pods_for_node(node_info.name)
        if nominated:
            nominated = [
                p
                for p in nominated
                if pod_priority(p) >= pod_priority(pod) and pod_key(p) != pod_key(pod)
            ]
        if nominated:
            state_with = state.clone()
            info_with = node_info.clone()
            for p in nominated:
                info_with.add_pod(p)
                s = self.run_pre_filter_extension_add_pod(state_with, pod, p, info_with)
                if s is not None:
                    return s
            s = self.run_filter_plugins(state_with, pod, info_with)
            if s is not None:
                return s
        return self.run_filter_plugins(state, pod, node_info)

    async def run_post_filter_plugins(
        self, state: CycleState, pod: Obj, filtered: fw.NodeToStatus
    ) -> tuple[fw.PostFilterResult | None, Status]:
        reasons: list[str] = []
        result: fw.PostFilterResult | None = None
        for pl in self.points["postFilter"]:
            r, s = await pl.post_filter(state, pod, filtered)
            if s is None or s.is_success():
                return r, Status()
            if s.code == Code.UNSCHEDULABLE_AND_UNRESOLVABLE:
                return r, s.with_plugin(pl.name)
            if not s.is_rejected():
                return None, Status(Code.ERROR, s.message(), error=s.error).with_plugin(pl.name)
            if r is not None and r.nominated_node_name is not None:
                result = r
            reasons.extend(s.reasons)
        return result, Status(Code.UNSCHEDULABLE, *reasons)

    # --- scoring ----------------------------------------------------------------------------

    def run_pre_score_plugins(
        self, state: CycleState, pod: Obj, nodes: Sequence[NodeInfo]
    ) -> Status | None:
        skipped: set[str] = set()
        for pl in self.points["preScore"]:
            s: Status | None = pl.pre_score(state, pod, nodes)
            if s is not None and s.is_skip():
                skipped.add(pl.name)
                continue
            if s is not None and not s.is_success():
                return Status(
                    Code.ERROR, f'running PreScore plugin "{pl.name}": {s.message()}'
                ).with_plugin(pl.name)
        state.skip_score_plugins = skipped
        return None

    def run_score_plugins(
        self, state: CycleState, pod: Obj, nodes: Sequence[NodeInfo]
    ) -> tuple[list[fw.NodePluginScores], Status | None]:
        totals, per_plugin, s = self.run_score_plugins_totals(state, pod, nodes)
        if s is not None:
            return [], s
        # per-plugin scores are kept for debugging only when asked: they cost a list per node
        if self.keep_plugin_scores:
            return [
                fw.NodePluginScores(
                    n.name,
                    [fw.PluginScore(name, raw[i] * self.weights[name]) for name, raw in per_plugin],
                    totals[i],
                )
                for i, n in enumerate(nodes)
            ], None
        return [
            fw.NodePluginScores(n.name, [], t) for n, t in zip(nodes, totals, strict=True)
        ], None

    def run_score_plugins_totals(
        self, state: CycleState, pod: Obj, nodes: Sequence[NodeInfo]
    ) -> tuple[list[int], list[tuple[str, list[int]]], Status | None]:
        """Score, normalise and weigh: each node's total, in ``nodes``' order.

        The hot path of every cycle: scores stay plain lists of ints (a plugin's
        ``normalize_scores`` works on them directly; otherwise NodeScores are built
        for its ``normalize_score``), and no object is made per node.
        """
        skip = state.skip_score_plugins
        totals = [0] * len(nodes)
        per_plugin: list[tuple[str, list[int]]] = []
        for pl in self.points["score"]:
            if skip and pl.name in skip:
                continue
            raw: list[int] = []
            batch = getattr(pl, "score_nodes", None) if self.use_batch else None
            if batch is not None:
                raw = batch(state, pod, nodes)
            else:
                score_fn = pl.score
                for n in nodes:
                    score, s = score_fn(state, pod, n)
                    if s is not None and not s.is_success():
                        return (
                            [],
                            [],
                            Status(
                                Code.ERROR, f'running Score plugin "{pl.name}": {s.message()}'
                            ).with_plugin(pl.name),
                        )
                    raw.append(score)
            ext = pl.score_extensions()
            if ext is not None:
                fast = getattr(ext, "normalize_scores", None) if self.use_batch else None
                if fast is not None:
                    raw = fast(state, pod, raw)
                else:
                    ns_list = [fw.NodeScore(n.name, v) for n, v in zip(nodes, raw, strict=True)]
                    s = ext.normalize_score(state, pod, ns_list)
                    if s is not None and not s.is_success():
                        return (
                            [],
                            [],
                            Status(
                                Code.ERROR,
                                f'running Normalize on Score plugin "{pl.name}": {s.message()}',
                            ).with_plugin(pl.name),
                        )
                    raw = [x.score for x in ns_list]
            if raw and (max(raw) > MAX_NODE_SCORE or min(raw) < MIN_NODE_SCORE):
                v = next(v for v in raw if v > MAX_NODE_SCORE or v < MIN_NODE_SCORE)
                return (
                    [],
                    [],
                    Status(
                        Code.ERROR,
                        f'plugin "{pl.name}" returns an invalid score {v}, it should in '
                        f"the range of [{MIN_NODE_SCORE}, {MAX_NODE_SCORE}] after normalizing",
                    ).with_plugin(pl.name),
                )
            weight = self.weights[pl.name]
            if weight == 1:
                totals = [t + v for t, v in zip(totals, raw, strict=True)]
            else:
                totals = [t + v * weight for t, v in zip(totals, raw, strict=True)]
            per_plugin.append((pl.name, raw))
        return totals, per_plugin, None

    # --- reserve and permit -----------------------------------------------------------------

    def run_reserve_plugins_reserve(
        self, state: CycleState, pod: Obj, node_name: str
    ) -> Status | None:
        for pl in self.points["reserve"]:
            s: Status | None = pl.reserve(state, pod, node_name)
            if s is not None and not s.is_success():
                if s.is_rejected():
                    return s.with_plugin(pl.name)
                return Status(
                    Code.ERROR, f'running Reserve plugin "{pl.name}": {s.message()}'
                ).with_plugin(pl.name)
        return None

    def run_reserve_plugins_unreserve(self, state: CycleState, pod: Obj, node_name: str) -> None:
        for pl in reversed(self.points["reserve"]):
            try:
                pl.unreserve(state, pod, node_name)
            except Exception:
                log.exception("unreserve of plugin %s failed", pl.name)

    def run_permit_plugins(self, state: CycleState, pod: Obj, node_name: str) -> Status | None:
        pending: dict[str, float] = {}
        for pl in self.points["permit"]:
            s: Status | None
            timeout: float
            s, timeout = pl.permit(state, pod, node_name)
            if s is None or s.is_success():
                continue
            if s.is_rejected():
                return s.with_plugin(pl.name)
            if s.is_wait():
                pending[pl.name] = min(timeout, MAX_PERMIT_TIMEOUT)
                continue
            return Status(
                Code.ERROR, f'running Permit plugin "{pl.name}": {s.message()}'
            ).with_plugin(pl.name)
        if pending:
            self.waiting_pods[pod_key(pod)] = WaitingPod(pod, pending)
            name = (pod.get("metadata") or {}).get("name", "")
            return Status(
                Code.WAIT,
                f'one or more plugins asked to wait and no plugin rejected pod "{name}"',
            )
        return None

    def get_waiting_pod(self, uid: str) -> WaitingPod | None:
        return self.waiting_pods.get(uid)

    async def wait_on_permit(self, pod: Obj) -> Status | None:
        wp = self.waiting_pods.get(pod_key(pod))
        if wp is None:
            return None
        try:
            timeout = min(wp.timeouts.values()) if wp.timeouts else MAX_PERMIT_TIMEOUT
            try:
                return await asyncio.wait_for(asyncio.shield(wp.result), timeout)
            except TimeoutError:
                plugin = min(wp.pending) if wp.pending else ""
                return Status(
                    Code.UNSCHEDULABLE,
                    f"rejected due to timeout after waiting {timeout}s at plugin {plugin}",
                ).with_plugin(plugin)
        finally:
            self.waiting_pods.pop(pod_key(pod), None)

    # --- binding ----------------------------------------------------------------------------

    async def run_pre_bind_plugins(
        self, state: CycleState, pod: Obj, node_name: str
    ) -> Status | None:
        for pl in self.points["preBind"]:
            s: Status | None = await pl.pre_bind(state, pod, node_name)
            if s is not None and not s.is_success() and not s.is_skip():
                if s.is_rejected():
                    return s.with_plugin(pl.name)
                return Status(
                    Code.ERROR, f'running PreBind plugin "{pl.name}": {s.message()}'
                ).with_plugin(pl.name)
        return None

    async def run_bind_plugins(self, state: CycleState, pod: Obj, node_name: str) -> Status | None:
        if not self.points["bind"]:
            return Status(Code.SKIP)
        for pl in self.points["bind"]:
            s: Status | None = await pl.bind(state, pod, node_name)
            if s is not None and s.is_skip():
                continue
            if s is not None and not s.is_success():
                if s.is_rejected():
                    return s.with_plugin(pl.name)
                return Status(
                    Code.ERROR, f'running Bind plugin "{pl.name}": {s.message()}'
                ).with_plugin(pl.name)
            return None
        return Status(Code.SKIP)

    async def run_post_bind_plugins(self, state: CycleState, pod: Obj, node_name: str) -> None:
        for pl in self.points["postBind"]:
            await pl.post_bind(state, pod, node_name)
