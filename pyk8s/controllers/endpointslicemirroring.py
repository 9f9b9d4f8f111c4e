"""EndpointSlice mirroring: Endpoints made by hand for a selector-less Service, as slices.

Mirrors ``pkg/controller/endpointslicemirroring`` (``endpointslicemirroring_controller.go``
``syncEndpoints``, ``reconciler.go``, ``utils.go``): for a Service without a selector
(not ExternalName) whose Endpoints are not labelled
``endpointslice.kubernetes.io/skip-mirror=true`` nor carry a leader-election
annotation, one EndpointSlice per address type and port set, holding at most
``max_endpoints_per_subset`` addresses of each subset (ready ones, then not-ready
ones, with ``conditions.ready``), labelled ``kubernetes.io/service-name`` and
``endpointslice.kubernetes.io/managed-by=endpointslicemirroring-controller.k8s.io``
besides the Endpoints' own labels, with the Endpoints' annotations (but its
last-change-trigger-time and last-applied-configuration), owned by the Endpoints.
Mirrored slices go when the Endpoints or Service go, or the Service gets a selector.
"""

from __future__ import annotations

import contextlib
import copy
import ipaddress
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from pyk8s.api import errors
from pyk8s.client import events, rest
from pyk8s.client.cache import store
from pyk8s.controllers import base, endpointslice, ownership
from pyk8s.controllers import manager as manager_
from pyk8s.controllers.resources import ENDPOINTS, ENDPOINTSLICES, SERVICES

Object = Mapping[str, Any]
log = logging.getLogger(__name__)

MANAGED_BY = "endpointslicemirroring-controller.k8s.io"
SERVICE_NAME_LABEL = endpointslice.SERVICE_NAME_LABEL
MANAGED_BY_LABEL = endpointslice.MANAGED_BY_LABEL
SKIP_MIRROR_LABEL = "endpointslice.kubernetes.io/skip-mirror"
LEADER_ANNOTATION = "control-plane.alpha.kubernetes.io/leader"
NOT_COPIED = (
    "endpoints.kubernetes.io/last-change-trigger-time",
    "kubectl.kubernetes.io/last-applied-configuration",
)
MAX_ENDPOINTS_PER_SUBSET = 1000

Key = tuple[str, tuple[tuple[Any, ...], ...]]
"""(address type, port set): one slice each."""


def should_mirror(endpoints: Object) -> bool:
    md = endpoints["metadata"]
    return (md.get("labels") or {}).get(SKIP_MIRROR_LABEL) != "true" and LEADER_ANNOTATION not in (
        md.get("annotations") or {}
    )


def slice_ports(ports: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for p in ports:
        port: dict[str, Any] = {
            "name": p.get("name", ""),
            "port": p.get("port"),
            "protocol": p.get("protocol", "TCP"),
        }
        if p.get("appProtocol") is not None:
            port["appProtocol"] = p["appProtocol"]
        out.append(port)
    return out


def port_key(ports: Sequence[Mapping[str, Any]]) -> tuple[tuple[Any, ...], ...]:
    return tuple(
        sorted(
            (
                p.get("name") or "",
                p.get("port") or 0,
                p.get("protocol") or "",
                p.get("appProtocol") or "",
            )
            for p in ports
        )
    )


def address_to_endpoint(
    address: Mapping[str, Any], ready: bool
) -> tuple[dict[str, Any], str] | None:
    """The slice endpoint and address type of an Endpoints address; None for a bad IP."""
    try:
        ip = ipaddress.ip_address(str(address.get("ip", "")).strip())
    except ValueError:
        return None
    ep: dict[str, Any] = {"addresses": [str(ip)], "conditions": {"ready": ready}}
    if address.get("targetRef"):
        ep["targetRef"] = copy.deepcopy(dict(address["targetRef"]))
    if address.get("nodeName"):
        ep["nodeName"] = address["nodeName"]
    if address.get("hostname"):
        ep["hostname"] = address["hostname"]
    return ep, "IPv4" if ip.version == 4 else "IPv6"


def desired(
    endpoints: Object, max_per_subset: int
) -> tuple[dict[Key, tuple[list[dict[str, Any]], list[dict[str, Any]]]], int, int]:
    """Slices wanted by key: (ports, endpoints); and how many addresses were invalid / skipped."""
    want: dict[Key, tuple[list[dict[str, Any]], list[dict[str, Any]]]] = {}
    seen: dict[Key, set[str]] = {}
    invalid = skipped = 0
    for subset in endpoints.get("subsets") or []:
        ports = slice_ports(subset.get("ports") or [])
        pkey = port_key(ports)
        addresses = [(a, True) for a in subset.get("addresses") or []] + [
            (a, False) for a in subset.get("notReadyAddresses") or []
        ]
        added = 0
        for address, ready in addresses:
            if added >= max_per_subset:
                skipped += 1
                continue
            converted = address_to_endpoint(address, ready)
            if converted is None:
                invalid += 1
                skipped += 1
                continue
            ep, addr_type = converted
            key = (addr_type, pkey)
            group = want.setdefault(key, (ports, []))
            ips = seen.setdefault(key, set())
            added += 1
            if ep["addresses"][0] in ips:
                continue  # RepackSubsets: one entry per address, the ready one first
            ips.add(ep["addresses"][0])
            group[1].append(ep)
    for _, eps in want.values():
        eps.sort(key=lambda e: e["addresses"][0])
    return want, invalid, skipped


class EndpointSliceMirroringController(base.Controller):
    name = "endpointslice-mirroring-controller"
    workers = 5

    def __init__(
        self, ctx: manager_.ControllerContext, max_per_subset: int = MAX_ENDPOINTS_PER_SUBSET
    ) -> None:
        super().__init__(ctx.clock)
        self.client: rest.Interface = ctx.client
        self.recorder = ctx.recorder("endpointslice-mirroring-controller")
        self.max_per_subset = max_per_subset
        self.services = ctx.informers.lister(SERVICES)
        self.endpoints = ctx.informers.lister(ENDPOINTS)
        self.slices = ctx.informers.lister(ENDPOINTSLICES)
        self._written: dict[str, endpointslice.Writes] = {}
        for informer in (
            ctx.informers.for_resource(SERVICES),
            ctx.informers.for_resource(ENDPOINTS),
        ):
            self.watch(
                informer,
                add=self.enqueue,
                update=lambda old, new: self.enqueue(new),
                delete=self.enqueue,
            )
        self.watch(
            ctx.informers.for_resource(ENDPOINTSLICES),
            add=self._slice_changed,
            update=lambda old, new: self._slice_changed(new),
            delete=self._slice_changed,
        )

    def _slice_changed(self, s: Object) -> None:
        labels = ownership.labels_of(s)
        if labels.get(MANAGED_BY_LABEL) == MANAGED_BY and labels.get(SERVICE_NAME_LABEL):
            self.queue.add(f"{s['metadata']['namespace']}/{labels[SERVICE_NAME_LABEL]}")

    def _mirrored(self, ns: str, name: str) -> list[Object]:
        return self.slices.namespace(ns).list(
            {SERVICE_NAME_LABEL: name, MANAGED_BY_LABEL: MANAGED_BY}
        )

    async def _delete_all(self, ns: str, name: str) -> None:
        for s in self._mirrored(ns, name):
            with contextlib.suppress(errors.NotFound):
                await self.client.delete(ENDPOINTSLICES, s["metadata"]["name"], ns)

    async def reconcile(self, key: str) -> None:
        ns, name = store.split_key(key)
        try:
            svc = self.services.namespace(ns).get(name)
        except errors.NotFound:
            return  # the slices go with their Endpoints (ownerReferences)
        spec = svc.get("spec") or {}
        if spec.get("type") == "ExternalName":
            return
        if spec.get("selector") is not None:
            await self._delete_all(ns, name)
            return
        try:
            eps = self.endpoints.namespace(ns).get(name)
        except errors.NotFound:
            await self._delete_all(ns, name)
            return
        if not should_mirror(eps):
            await self._delete_all(ns, name)
            return
        existing = self._mirrored(ns, name)
        writes = self._written.get(key)
        fresh = writes is not None and self.clock.now() - writes.at < endpointslice.STALE_CACHE_WAIT
        if writes is not None and fresh and writes.stale(existing):
            self.queue.add_after(key, 0.2)  # the cache has not seen our last writes yet
            return
        if svc["metadata"].get("deletionTimestamp") or eps["metadata"].get("deletionTimestamp"):
            return
        await self._reconcile(eps, existing, key)

    async def _reconcile(self, eps: Object, existing: list[Object], key: str) -> None:
        ns, name = eps["metadata"]["namespace"], eps["metadata"]["name"]
        want, invalid, skipped = desired(eps, self.max_per_subset)
        if invalid:
            self.recorder.event(
                eps,
                events.WARNING,
                "InvalidIPAddress",
                "Mirror",
                f"Skipped {invalid} invalid IP addresses when mirroring to EndpointSlices",
            )
        if skipped > invalid:
            self.recorder.event(
                eps,
                events.WARNING,
                "TooManyAddressesToMirror",
                "Mirror",
                f"A max of {self.max_per_subset} addresses can be mirrored to EndpointSlices "
                f"per Endpoints subset. {skipped} addresses were skipped",
            )
        md = eps["metadata"]
        labels = {
            **(md.get("labels") or {}),
            SERVICE_NAME_LABEL: name,
            MANAGED_BY_LABEL: MANAGED_BY,
        }
        annotations = {
            k: v for k, v in (md.get("annotations") or {}).items() if k not in NOT_COPIED
        }
        by_key: dict[Key, list[Object]] = {}
        for s in sorted(existing, key=lambda s: s["metadata"]["name"]):
            by_key.setdefault(
                (s.get("addressType", ""), port_key(s.get("ports") or [])), []
            ).append(s)
        to_write: list[tuple[Object | None, dict[str, Any]]] = []
        to_delete: list[Object] = []
        for k, slices in by_key.items():
            if k not in want:
                to_delete.extend(slices)
        for k, (ports, endpoints) in sorted(want.items(), key=lambda kv: str(kv[0])):
            slices = by_key.get(k, [])
            to_delete.extend(slices[1:])
            first = slices[0] if slices else None
            body: dict[str, Any] = {
                "apiVersion": "discovery.k8s.io/v1",
                "kind": "EndpointSlice",
                "metadata": {
                    "namespace": ns,
                    "labels": labels,
                    "annotations": annotations,
                    "ownerReferences": [ownership.controller_ref(eps, "v1", "Endpoints")],
                },
                "addressType": k[0],
                "ports": ports,
                "endpoints": endpoints,
            }
            if first is not None and _same(first, body):
                continue
            to_write.append((first, body))
        writes = self._written[key] = endpointslice.Writes(at=self.clock.now())
        for first, body in to_write:
            current = first
            if current is None:
                # recycleSlices: an update instead of a create and a delete (same address type)
                current = next(
                    (s for s in to_delete if s.get("addressType") == body["addressType"]), None
                )
                if current is not None:
                    to_delete.remove(current)
            if current is not None:
                full: dict[str, Any] = copy.deepcopy(dict(current))
                full["metadata"].update(body["metadata"])
                full.update({k: body[k] for k in ("addressType", "ports", "endpoints")})
                done = await self.client.update(ENDPOINTSLICES, full, ns)
            else:
                body["metadata"]["generateName"] = f"{name}-"
                done = await self.client.create(ENDPOINTSLICES, body, ns)
            writes.updated[done["metadata"]["name"]] = done["metadata"]["resourceVersion"]
        for s in to_delete:
            writes.deleted.add(s["metadata"]["name"])
            with contextlib.suppress(errors.NotFound):
                await self.client.delete(ENDPOINTSLICES, s["metadata"]["name"], ns)


def _same(current: Object, body: Mapping[str, Any]) -> bool:
    md = current["metadata"]
    return bool(
        (current.get("endpoints") or []) == body["endpoints"]
        and (current.get("ports") or []) == body["ports"]
        and (md.get("labels") or {}) == body["metadata"]["labels"]
        and (md.get("annotations") or {}) == body["metadata"]["annotations"]
    )


def new(ctx: manager_.ControllerContext) -> EndpointSliceMirroringController:
    return EndpointSliceMirroringController(ctx)
