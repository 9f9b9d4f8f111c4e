"""The endpoints controller: an Endpoints object per selector Service, from its pods.

Mirrors ``pkg/controller/endpoint/endpoints_controller.go`` (``syncService``:
ready pods in ``addresses``, the others in ``notReadyAddresses`` unless
``publishNotReadyAddresses``; named target ports resolved per pod; subsets
grouped by port set as ``RepackSubsets`` does; services without a selector
are left to their users; a deleted service's Endpoints is deleted).
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Mapping
from typing import Any

from pyk8s.api import errors
from pyk8s.client import rest
from pyk8s.client.cache import store
from pyk8s.controllers import base, servicepods
from pyk8s.controllers import manager as manager_
from pyk8s.controllers.resources import ENDPOINTS, PODS, SERVICES

Object = Mapping[str, Any]
HEADLESS_LABEL = "service.kubernetes.io/headless"


class EndpointsController(base.Controller):
    name = "endpoints-controller"
    workers = 5

    def __init__(self, ctx: manager_.ControllerContext) -> None:
        super().__init__(ctx.clock)
        self.client: rest.Interface = ctx.client
        self.services = ctx.informers.lister(SERVICES)
        self.pods = ctx.informers.lister(PODS)
        self.endpoints = ctx.informers.lister(ENDPOINTS)
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
        self.watch(ctx.informers.for_resource(ENDPOINTS), delete=self.enqueue)

    async def reconcile(self, key: str) -> None:
        ns, name = store.split_key(key)
        svc = servicepods.get_service(self.services, key)
        if svc is None:
            with contextlib.suppress(errors.NotFound):
                await self.client.delete(ENDPOINTS, name, ns)
            return
        selector = servicepods.service_selector(svc)
        if selector is None:
            return
        publish = bool((svc.get("spec") or {}).get("publishNotReadyAddresses"))
        groups: dict[tuple[Any, ...], dict[str, list[dict[str, Any]]]] = {}
        for pod in self.pods.namespace(ns).list(selector):
            if not servicepods.should_include(pod, include_terminating=False):
                continue
            address: dict[str, Any] = {
                "ip": pod["status"]["podIP"],
                "targetRef": servicepods.target_ref(pod),
            }
            node = (pod.get("spec") or {}).get("nodeName")
            if node:
                address["nodeName"] = node
            hostname = servicepods.hostname_for(pod, svc)
            if hostname:
                address["hostname"] = hostname
            ports = servicepods.endpoint_ports(pod, svc)
            if (svc.get("spec") or {}).get("ports") and not ports:
                continue
            group = groups.setdefault(ports, {"addresses": [], "notReadyAddresses": []})
            which = "addresses" if publish or servicepods.ready(pod) else "notReadyAddresses"
            group[which].append(address)
        subsets = []
        for ports, group in sorted(groups.items(), key=lambda kv: str(kv[0])):
            subset: dict[str, Any] = {}
            for which in ("addresses", "notReadyAddresses"):
                if group[which]:
                    subset[which] = sorted(group[which], key=lambda a: a["ip"])
            if ports:
                subset["ports"] = servicepods.port_dicts(ports)
            subsets.append(subset)
        labels = dict(svc["metadata"].get("labels") or {})
        if (svc.get("spec") or {}).get("clusterIP") == "None":
            labels[HEADLESS_LABEL] = ""
        try:
            current = self.endpoints.namespace(ns).get(name)
        except errors.NotFound:
            current = None
        if current is None:
            body = {
                "apiVersion": "v1",
                "kind": "Endpoints",
                "metadata": {"name": name, "namespace": ns, "labels": labels},
                "subsets": subsets,
            }
            try:
                await self.client.create(ENDPOINTS, body, ns)
            except errors.AlreadyExists:
                self.queue.add_rate_limited(key)
            return
        if (current.get("subsets") or []) == subsets and (
            current["metadata"].get("labels") or {}
        ) == labels:
            return
        updated: dict[str, Any] = copy.deepcopy(dict(current))
        updated["subsets"] = subsets
        updated["metadata"]["labels"] = labels
        await self.client.update(ENDPOINTS, updated, ns)


def new(ctx: manager_.ControllerContext) -> EndpointsController:
    return EndpointsController(ctx)
