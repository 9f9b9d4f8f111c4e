"""The root CA publisher: a ``kube-root-ca.crt`` ConfigMap with the cluster CA in every namespace.

Mirrors ``pkg/controller/certificates/rootcacertpublisher/publisher.go``
(namespace adds and ConfigMap changes of that name enqueue the namespace;
``syncNamespace`` creates the ConfigMap, or updates it when its data differ,
keeping other keys out; terminating namespaces are left alone; the
``kubernetes.io/description`` annotation as upstream).
"""

from __future__ import annotations

import contextlib
import copy
import logging
from typing import Any

from pyk8s.api import errors
from pyk8s.client import rest
from pyk8s.controllers import base
from pyk8s.controllers import manager as manager_
from pyk8s.controllers.resources import CONFIGMAPS, NAMESPACES

log = logging.getLogger(__name__)

CONFIGMAP_NAME = "kube-root-ca.crt"
DATA_KEY = "ca.crt"
DESCRIPTION = (
    "Contains a CA bundle that can be used to verify the kube-apiserver when using "
    "internal endpoints such as the internal service IP or kubernetes.default.svc. "
    "No other usage is guaranteed across distributions of Kubernetes clusters."
)


class Publisher(base.Controller):
    name = "root-ca-certificate-publisher-controller"
    workers = 2

    def __init__(self, ctx: manager_.ControllerContext) -> None:
        super().__init__(ctx.clock)
        self.client: rest.Interface = ctx.client
        self.root_ca = (ctx.root_ca or b"").decode("ascii", "replace")
        self.namespaces = ctx.informers.lister(NAMESPACES)
        self.configmaps = ctx.informers.lister(CONFIGMAPS)
        self.watch(
            ctx.informers.for_resource(NAMESPACES),
            add=self.enqueue,
            update=lambda old, new: self.enqueue(new),
        )
        self.watch(
            ctx.informers.for_resource(CONFIGMAPS),
            update=lambda old, new: self._configmap_changed(new),
            delete=self._configmap_changed,
        )
        if not self.root_ca:
            log.warning("root-ca publisher: no CA to publish; ConfigMaps will stay empty")

    def _configmap_changed(self, cm: base.Object) -> None:
        if cm["metadata"].get("name") == CONFIGMAP_NAME:
            self.queue.add(cm["metadata"]["namespace"])

    async def reconcile(self, key: str) -> None:
        if not self.root_ca:
            return
        try:
            ns = self.namespaces.get(key)
        except errors.NotFound:
            return
        if ns["metadata"].get("deletionTimestamp"):
            return
        data = {DATA_KEY: self.root_ca}
        try:
            cm = self.configmaps.namespace(key).get(CONFIGMAP_NAME)
        except errors.NotFound:
            body: dict[str, Any] = {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {
                    "name": CONFIGMAP_NAME,
                    "namespace": key,
                    "annotations": {"kubernetes.io/description": DESCRIPTION},
                },
                "data": data,
            }
            with contextlib.suppress(errors.AlreadyExists, errors.Forbidden):
                await self.client.create(CONFIGMAPS, body, key)
            return
        annotations = cm["metadata"].get("annotations") or {}
        if cm.get("data") == data and annotations.get("kubernetes.io/description") == DESCRIPTION:
            return
        updated: dict[str, Any] = copy.deepcopy(dict(cm))
        updated["data"] = data
        updated.pop("binaryData", None)
        updated["metadata"]["annotations"] = {
            **annotations,
            "kubernetes.io/description": DESCRIPTION,
        }
        try:
            await self.client.update(CONFIGMAPS, updated, key)
        except errors.NotFound:
            self.queue.add(key)


def new(ctx: manager_.ControllerContext) -> Publisher:
    return Publisher(ctx)
