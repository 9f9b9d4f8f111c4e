"""The endpointslice controller: EndpointSlices per selector Service, from its pods.

Mirrors ``pkg/controller/endpointslice/endpointslice_controller.go`` and
``reconciler.go``: slices carry ``kubernetes.io/service-name`` and
``endpointslice.kubernetes.io/managed-by``, are owned by their Service, hold at
most ``max_endpoints`` endpoints each and one port set each (pods resolving a
named port differently land in different slices); conditions ``ready``,
``serving`` and ``terminating`` as upstream (terminating pods stay listed,
not ready); ``publishNotReadyAddresses`` makes every endpoint ready.
Existing slices are updated in place, extra ones deleted. Services without a
selector keep the slices their users made.
"""

from __future__ import annotations

import contextlib
import copy
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pyk8s.api import errors
from pyk8s.client import rest
from pyk8s.client.cache import store
from pyk8s.controllers import base, ownership, servicepods
from pyk8s.controllers import manager as manager_
from pyk8s.controllers.resources import ENDPOINTSLICES, PODS, SERVICES

Object = Mapping[str, Any]
log = logging.getLogger(__name__)

SERVICE_NAME_LABEL = "kubernetes.io/service-name"
MANAGED_BY_LABEL = "endpointslice.kubernetes.io/managed-by"
MANAGED_BY = "endpointslice-controller.k8s.io"
MAX_ENDPOINTS = 100
STALE_CACHE_WAIT = 5.0
"""Seconds to wait for the cache to show our own writes before acting anyway."""


class EndpointSliceController(base.Controller):
    name = "endpointslice-controller"
    workers = 5

    def __init__(self, ctx: manager_.ControllerContext, max_endpoints: int = MAX_ENDPOINTS) -> None:
        super().__init__(ctx.clock)
        self.client: rest.Interface = ctx.client
        self.max_endpoints = max_endpoints
        self.services = ctx.informers.lister(SERVICES)
        self.pods = ctx.informers.lister(PODS)
        self.slices = ctx.informers.lister(ENDPOINTSLICES)
        self._written: dict[str, Writes] = {}
        self.watch(
            ctx.informers.for_resource(SERVICES),
            add=self.enqueue,
            update=lambda old, new: self.enqueue(new),
            delete=self.enqueue,
        )
        self.watch(
            ctx.informers.for_resource(PODS),
            **servicepods.pod_handlers(self.services, self.queue.add),
        )
        self.watch(
            ctx.informers.for_resource(ENDPOINTSLICES),
            update=lambda old, new: self._slice_changed(new),
            delete=self._slice_changed,
        )

    def _slice_changed(self, s: Object) -> None:
        labels = ownership.labels_of(s)
        if labels.get(MANAGED_BY_LABEL) == MANAGED_BY and labels.get(SERVICE_NAME_LABEL):
            self.queue.add(f"{s['metadata']['namespace']}/{labels[SERVICE_NAME_LABEL]}")

    def _endpoint(self, pod: Object, svc: Object, publish: bool) -> dict[str, Any]:
        terminating = bool(pod["metadata"].get("deletionTimestamp"))
        pod_ready = servicepods.ready(pod)
        ep: dict[str, Any] = {
            "addresses": [pod["status"]["podIP"]],
            "conditions": {
                "ready": publish or (pod_ready and not terminating),
                "serving": publish or pod_ready,
                "terminating": terminating,
            },
            "targetRef": servicepods.target_ref(pod),
        }
        node = (pod.get("spec") or {}).get("nodeName")
        if node:
            ep["nodeName"] = node
        hostname = servicepods.hostname_for(pod, svc)
        if hostname:
            ep["hostname"] = hostname
        return ep

    def desired(self, svc: Object, ns: str) -> dict[tuple[Any, ...], list[dict[str, Any]]]:
        """Endpoints grouped by port set."""
        selector = servicepods.service_selector(svc)
        assert selector is not None
        publish = bool((svc.get("spec") or {}).get("publishNotReadyAddresses"))
        groups: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
        for pod in self.pods.namespace(ns).list(selector):
            if not servicepods.should_include(pod, include_terminating=True):
                continue
            ports = servicepods.endpoint_ports(pod, svc)
            if (svc.get("spec") or {}).get("ports") and not ports:
                continue
            groups.setdefault(ports, []).append(self._endpoint(pod, svc, publish))
        for eps in groups.values():
            eps.sort(key=lambda e: e["addresses"][0])
        return groups

    async def reconcile(self, key: str) -> None:
        ns, name = store.split_key(key)
        svc = servicepods.get_service(self.services, key)
        if svc is None or servicepods.service_selector(svc) is None:
            return  # deleted services' slices go with them (ownerReferences); manual ones stay
        want: list[tuple[list[dict[str, Any]], list[dict[str, Any]]]] = []
        groups = self.desired(svc, ns)
        if not groups:
            groups = {servicepods.endpoint_ports({}, svc): []}
        for ports, eps in sorted(groups.items(), key=lambda kv: str(kv[0])):
            port_list = servicepods.port_dicts(ports)
            if not eps:
                want.append((port_list, []))
            for i in range(0, len(eps), self.max_endpoints):
                want.append((port_list, eps[i : i + self.max_endpoints]))
        existing = [
            s
            for s in self.slices.namespace(ns).list(
                {SERVICE_NAME_LABEL: name, MANAGED_BY_LABEL: MANAGED_BY}
            )
            if _owned_by(s, svc)
        ]
        writes = self._written.get(key)
        fresh = writes is not None and self.clock.now() - writes.at < STALE_CACHE_WAIT
        if writes is not None and fresh and writes.stale(existing):
            # The cache has not seen our last writes yet (endpointSliceTracker's
            # StaleSlices): acting now would duplicate or resurrect slices.
            self.queue.add_after(key, 0.2)
            return
        if svc["metadata"].get("deletionTimestamp"):
            return
        writes = self._written[key] = Writes(at=self.clock.now())
        labels = {
            **(svc["metadata"].get("labels") or {}),
            SERVICE_NAME_LABEL: name,
            MANAGED_BY_LABEL: MANAGED_BY,
        }
        # Reuse slices whose ports match, in order, so updates stay in place.
        unused = sorted(existing, key=lambda s: s["metadata"]["name"])
        for port_list, chunk in want:
            match = next((s for s in unused if (s.get("ports") or []) == port_list), None)
            if match is None:
                match = unused[0] if unused else None
            if match is not None:
                unused.remove(match)
                if (
                    (match.get("ports") or []) == port_list
                    and (match.get("endpoints") or []) == chunk
                    and ownership.labels_of(match) == labels
                ):
                    continue
                body: dict[str, Any] = copy.deepcopy(dict(match))
                body["ports"] = port_list
                body["endpoints"] = chunk
                body["metadata"]["labels"] = labels
                log.debug("endpointslice: updating %s for %s", match["metadata"]["name"], key)
                done = await self.client.update(ENDPOINTSLICES, body, ns)
                writes.updated[done["metadata"]["name"]] = done["metadata"]["resourceVersion"]
                continue
            new_slice = {
                "apiVersion": "discovery.k8s.io/v1",
                "kind": "EndpointSlice",
                "metadata": {
                    "generateName": f"{name}-",
                    "namespace": ns,
                    "labels": labels,
                    "ownerReferences": [ownership.controller_ref(svc, "v1", "Service")],
                },
                "addressType": "IPv4",
                "ports": port_list,
                "endpoints": chunk,
            }
            done = await self.client.create(ENDPOINTSLICES, new_slice, ns)
            log.debug("endpointslice: created %s for %s", done["metadata"]["name"], key)
            writes.updated[done["metadata"]["name"]] = done["metadata"]["resourceVersion"]
        for s in unused:
            writes.deleted.add(s["metadata"]["name"])
            log.debug("endpointslice: deleting %s for %s", s["metadata"]["name"], key)
            with contextlib.suppress(errors.NotFound):
                await self.client.delete(ENDPOINTSLICES, s["metadata"]["name"], ns)


@dataclass
class Writes:
    at: float
    updated: dict[str, str] = field(default_factory=dict)
    deleted: set[str] = field(default_factory=set)

    def stale(self, cached: list[Object]) -> bool:
        versions = {s["metadata"]["name"]: s["metadata"].get("resourceVersion") for s in cached}
        if any(name in versions for name in self.deleted):
            return True
        for name, rv in self.updated.items():
            have = versions.get(name)
            if have is None or _rv(have) < _rv(rv):
                return True
        return False


def _rv(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def _owned_by(s: Object, svc: Object) -> bool:
    ref = ownership.controller_of(s)
    return ref is None or ref.get("uid") == svc["metadata"].get("uid")


def new(ctx: manager_.ControllerContext) -> EndpointSliceController:
    return EndpointSliceController(ctx)
