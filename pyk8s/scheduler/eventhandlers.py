"""Informer events → cache and queue (``pkg/scheduler/eventhandlers.go``).

Assigned pods go to the cache; unassigned pods of our profiles go to the queue; a
node or assigned-pod change is classified into the specific cluster event
(``UpdateNodeLabel``, ``UpdateNodeTaint``, ...) that moves unschedulable pods whose
rejecting plugins registered it. Handlers only touch memory; they never call the API.
"""

from __future__ import annotations

import logging

from pyk8s.scheduler.cache import CacheError
from pyk8s.scheduler.framework import interface as fw
from pyk8s.scheduler.framework.types import (
    Obj,
    meta,
    namespaced_name,
    node_name,
    pod_key,
    pod_priority,
)
from pyk8s.scheduler.scheduler import Scheduler

log = logging.getLogger(__name__)

A = fw.ActionType
NODE = fw.EventResource.NODE
ASSIGNED_POD = fw.EventResource.ASSIGNED_POD


def _conditions(status: Obj) -> list[tuple[str, str]]:
    return [(c.get("type", ""), c.get("status", "")) for c in status.get("conditions") or ()]


def node_update_action(old: Obj, new: Obj) -> fw.ActionType:
    """What changed on a node, as the scheduler cares (``nodeSchedulingPropertiesChange``)."""
    action = A(0)
    os_, ns = old.get("status") or {}, new.get("status") or {}
    if os_.get("allocatable") != ns.get("allocatable"):
        action |= A.UPDATE_NODE_ALLOCATABLE
    if meta(old).get("labels") != meta(new).get("labels"):
        action |= A.UPDATE_NODE_LABEL
    ospec, nspec = old.get("spec") or {}, new.get("spec") or {}
    if ospec.get("taints") != nspec.get("taints") or bool(ospec.get("unschedulable")) != bool(
        nspec.get("unschedulable")
    ):
        action |= A.UPDATE_NODE_TAINT
    if _conditions(os_) != _conditions(ns):
        action |= A.UPDATE_NODE_CONDITION
    if meta(old).get("annotations") != meta(new).get("annotations"):
        action |= A.UPDATE_NODE_ANNOTATION
    return action


def on_node_add(s: Scheduler, node: Obj) -> None:
    s.cache.add_node(node)
    s.queue.move_all_to_active_or_backoff(fw.ClusterEvent(NODE, A.ADD), None, node)


def on_node_update(s: Scheduler, old: Obj, new: Obj) -> None:
    s.cache.update_node(old, new)
    action = node_update_action(old, new)
    if action:
        s.queue.move_all_to_active_or_backoff(fw.ClusterEvent(NODE, action), old, new)


def on_node_delete(s: Scheduler, node: Obj) -> None:
    # a domain that goes away can make a spread constraint satisfiable
    s.queue.move_all_to_active_or_backoff(fw.ClusterEvent(NODE, A.DELETE), node, None)
    try:
        s.cache.remove_node(node)
    except CacheError:
        log.warning("node %s was not in the cache", meta(node).get("name"))


def _nominated_node(pod: Obj) -> str:
    return str((pod.get("status") or {}).get("nominatedNodeName") or "")


def _freed_nomination(s: Scheduler, pod: Obj) -> None:
    """A nominated pod counts as assigned for pods of lower or equal priority: its
    nomination going away is, for them, an assigned pod's deletion."""
    priority = pod_priority(pod)
    s.queue.move_all_to_active_or_backoff(
        fw.ClusterEvent(ASSIGNED_POD, A.DELETE), pod, None, lambda p: pod_priority(p) <= priority
    )


def on_pod_add(s: Scheduler, pod: Obj) -> None:
    if node_name(pod):
        try:
            s.cache.add_pod(pod)
        except CacheError:
            log.exception("adding pod %s to the cache", namespaced_name(pod))
            return
        s.queue.move_all_to_active_or_backoff(fw.ClusterEvent(ASSIGNED_POD, A.ADD), None, pod)
    elif s.responsible_for(pod):
        s.queue.add(pod)


def on_pod_update(s: Scheduler, old: Obj, new: Obj) -> None:
    if node_name(new):
        if not node_name(old):  # just bound: leaves the queue, joins the cache
            s.queue.delete(old)
            on_pod_add(s, new)
            return
        if s.cache.is_assumed_pod(new):
            s.cache.add_pod(new)
            return
        try:
            s.cache.update_pod(old, new)
        except CacheError:
            s.cache.add_pod(new)
        action = A(0)
        if meta(old).get("labels") != meta(new).get("labels"):
            action |= A.UPDATE_POD_LABEL
        if action:
            s.queue.move_all_to_active_or_backoff(fw.ClusterEvent(ASSIGNED_POD, action), old, new)
    elif s.responsible_for(new):
        if s.cache.is_assumed_pod(new):
            return
        s.queue.update(old, new)
        if _nominated_node(old) and _nominated_node(old) != _nominated_node(new):
            _freed_nomination(s, old)


def on_pod_delete(s: Scheduler, pod: Obj) -> None:
    if node_name(pod):
        try:
            s.cache.remove_pod(pod)
        except CacheError:
            log.warning("pod %s was not in the cache", namespaced_name(pod))
        s.queue.move_all_to_active_or_backoff(fw.ClusterEvent(ASSIGNED_POD, A.DELETE), pod, None)
        return
    s.queue.delete(pod)
    f = s.framework_for_pod(pod)
    if f is None:
        return
    waiting = f.get_waiting_pod(pod_key(pod))
    if waiting is not None:
        waiting.reject("", "removed")
        # it was assumed: the room it held is free
        s.queue.move_all_to_active_or_backoff(fw.ClusterEvent(ASSIGNED_POD, A.DELETE), pod, None)
    elif _nominated_node(pod):
        _freed_nomination(s, pod)


def on_volume_event(
    s: Scheduler, resource: fw.EventResource, old: Obj | None, new: Obj | None
) -> None:
    """A PersistentVolumeClaim or PersistentVolume was added or changed: it may be the
    claim or volume a waiting pod lacked."""
    action = A.ADD if old is None else A.UPDATE
    s.queue.move_all_to_active_or_backoff(fw.ClusterEvent(resource, action), old, new)
