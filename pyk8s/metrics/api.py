"""The ``metrics.k8s.io/v1beta1`` API: NodeMetrics and PodMetrics over HTTPS.

Mirrors metrics-server's ``pkg/api`` (``node.go``, ``pod.go``: get and list, label
selectors, namespaces; the object's labels are the node's or pod's, its usage the stored
one; a node or pod without a usage yet is left out of lists and not found alone) and
``pkg/server`` (the discovery documents; ``/healthz``, ``/livez`` and ``/readyz`` without
authentication). Every other request must come from a front proxy (or a client
certificate of the cluster) and pass a SubjectAccessReview (:mod:`delegation`).
"""

from __future__ import annotations

import datetime
import logging
from typing import Any

import orjson
from aiohttp import web

from pyk8s.api import errors
from pyk8s.client import rest
from pyk8s.metrics import delegation
from pyk8s.metrics.storage import Storage, Usage

log = logging.getLogger(__name__)

Obj = dict[str, Any]
GROUP, VERSION = "metrics.k8s.io", "v1beta1"
GROUP_VERSION = f"{GROUP}/{VERSION}"
NODES = rest.ResourceRef("", "v1", "nodes", False, "Node")
PODS = rest.ResourceRef("", "v1", "pods", True, "Pod")
NOT_ALLOWED = "the server does not allow this method on the requested resource"
UNAUTHENTICATED_PATHS = ("/healthz", "/livez", "/readyz")

RESOURCE_LIST: Obj = {
    "kind": "APIResourceList",
    "apiVersion": "v1",
    "groupVersion": GROUP_VERSION,
    "resources": [
        {"name": "nodes", "singularName": "", "namespaced": False, "kind": "NodeMetrics",
         "verbs": ["get", "list"]},
        {"name": "pods", "singularName": "", "namespaced": True, "kind": "PodMetrics",
         "verbs": ["get", "list"]},
    ],
}  # fmt: skip
_GV_DOC = {"groupVersion": GROUP_VERSION, "version": VERSION}
API_GROUP: Obj = {
    "kind": "APIGroup",
    "apiVersion": "v1",
    "name": GROUP,
    "versions": [_GV_DOC],
    "preferredVersion": _GV_DOC,
}


def cpu_quantity(nanocores: int) -> str:
    """``resource.NewScaledQuantity(n, resource.Nano)`` in canonical form."""
    if nanocores == 0:
        return "0"
    for div, suffix in ((10**9, ""), (10**6, "m"), (10**3, "u")):
        if nanocores % div == 0:
            return f"{nanocores // div}{suffix}"
    return f"{nanocores}n"


def memory_quantity(value: int) -> str:
    """``resource.NewQuantity(bytes, resource.BinarySI)`` in canonical form."""
    if value == 0:
        return "0"
    for power, suffix in ((6, "Ei"), (5, "Pi"), (4, "Ti"), (3, "Gi"), (2, "Mi"), (1, "Ki")):
        if value % (1024**power) == 0:
            return f"{value // 1024**power}{suffix}"
    return str(value)


def duration(seconds: float) -> str:
    """A ``metav1.Duration`` as Go prints it (``15s``, ``15.002s``, ``1m0s``)."""
    if seconds < 60:
        text = f"{seconds:.9f}".rstrip("0").rstrip(".")
        return f"{text}s"
    minutes, rest_ = divmod(seconds, 60)
    return f"{int(minutes)}m{duration(rest_)}"


def _time(epoch: float) -> str:
    return datetime.datetime.fromtimestamp(int(epoch), datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def node_metrics(node: Obj, usage: Usage) -> Obj:
    md = node.get("metadata") or {}
    meta: Obj = {"name": md.get("name"), "creationTimestamp": _now()}
    if md.get("labels"):
        meta["labels"] = md["labels"]
    return {
        "metadata": meta,
        "timestamp": _time(usage.timestamp),
        "window": duration(usage.window),
        "usage": {
            "cpu": cpu_quantity(usage.cpu_nanocores),
            "memory": memory_quantity(usage.memory_bytes),
        },
    }


def pod_metrics(pod: Obj, got: tuple[dict[str, Usage], float, float]) -> Obj:
    containers, timestamp, window = got
    md = pod.get("metadata") or {}
    meta: Obj = {
        "name": md.get("name"),
        "namespace": md.get("namespace"),
        "creationTimestamp": _now(),
    }
    if md.get("labels"):
        meta["labels"] = md["labels"]
    order = [c.get("name") for c in (pod.get("spec") or {}).get("containers") or []]
    names = sorted(containers, key=lambda n: (order.index(n) if n in order else len(order), n))
    return {
        "metadata": meta,
        "timestamp": _time(timestamp),
        "window": duration(window),
        "containers": [
            {
                "name": n,
                "usage": {
                    "cpu": cpu_quantity(containers[n].cpu_nanocores),
                    "memory": memory_quantity(containers[n].memory_bytes),
                },
            }
            for n in names
        ],
    }


def _status(code: int, reason: str, message: str, details: Obj | None = None) -> web.Response:
    body: Obj = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }
    if details:
        body["details"] = details
    return web.Response(status=code, body=orjson.dumps(body), content_type="application/json")


def _json(doc: Obj) -> web.Response:
    return web.Response(body=orjson.dumps(doc), content_type="application/json")


class MetricsAPI:
    def __init__(
        self,
        client: rest.Client,
        storage: Storage,
        authenticator: delegation.Authenticator,
        authorizer: delegation.Authorizer,
    ) -> None:
        self.client = client
        self.storage = storage
        self.authenticator = authenticator
        self.authorizer = authorizer

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self.handle)
        return app

    async def handle(self, request: web.Request) -> web.StreamResponse:
        path = request.path.rstrip("/") or "/"
        if path in UNAUTHENTICATED_PATHS:
            if path == "/readyz" and not self.storage.ready:
                return web.Response(status=500, text="[-]metric-storage-ready failed\n")
            return web.Response(text="ok")
        peer = request.transport.get_extra_info("peercert") if request.transport else None
        user = self.authenticator.authenticate(peer, request.headers, request.headers.getall)
        if user is None:
            return _status(401, "Unauthorized", "Unauthorized")
        if request.method not in ("GET", "HEAD"):
            return _status(405, "MethodNotAllowed", NOT_ALLOWED)
        attrs = self._attributes(path, request)
        allowed, reason = await self.authorizer.authorize(user, attrs)
        if not allowed:
            return self._forbidden(user, attrs, reason)
        try:
            return await self._serve(path, request, attrs)
        except errors.ApiError as e:  # a bad selector: the API server's answer, passed on
            return _status(e.code, e.reason, e.message)

    def _attributes(self, path: str, request: web.Request) -> delegation.Attributes:
        parts = path.strip("/").split("/")
        if parts[:3] != ["apis", GROUP, VERSION] or len(parts) < 4:
            return delegation.Attributes(verb=request.method.lower(), path=path)
        rest_parts = parts[3:]
        namespace = ""
        if rest_parts[0] == "namespaces" and len(rest_parts) >= 3:
            namespace, rest_parts = rest_parts[1], rest_parts[2:]
        resource = rest_parts[0]
        name = rest_parts[1] if len(rest_parts) > 1 else ""
        watch = request.query.get("watch", "").lower() in ("1", "true")
        verb = "watch" if watch else ("get" if name else "list")
        return delegation.Attributes(verb, path, GROUP, VERSION, resource, namespace, name)

    def _forbidden(
        self, user: delegation.User, attrs: delegation.Attributes, reason: str
    ) -> web.Response:
        if not attrs.resource_request:
            msg = f'forbidden: User "{user.name}" cannot {attrs.verb} path "{attrs.path}"'
            return _status(403, "Forbidden", msg)
        where = (
            f' in the namespace "{attrs.namespace}"' if attrs.namespace else " at the cluster scope"
        )
        named = f' "{attrs.name}"' if attrs.name else ""
        msg = (
            f'{attrs.resource}.{GROUP}{named} is forbidden: User "{user.name}" cannot '
            f'{attrs.verb} resource "{attrs.resource}" in API group "{GROUP}"{where}'
        )
        if reason:
            msg += f": {reason}"
        return _status(403, "Forbidden", msg, {"group": GROUP, "kind": attrs.resource})

    async def _serve(
        self, path: str, request: web.Request, attrs: delegation.Attributes
    ) -> web.Response:
        if path == "/apis":
            group = {k: v for k, v in API_GROUP.items() if k not in ("kind", "apiVersion")}
            return _json({"kind": "APIGroupList", "apiVersion": "v1", "groups": [group]})
        if path == f"/apis/{GROUP}":
            return _json(API_GROUP)
        if path == f"/apis/{GROUP_VERSION}":
            return _json(RESOURCE_LIST)
        if not attrs.resource_request or attrs.resource not in ("nodes", "pods"):
            return _status(404, "NotFound", "the server could not find the requested resource")
        if attrs.resource == "nodes" and attrs.namespace:
            return _status(404, "NotFound", "the server could not find the requested resource")
        if attrs.verb == "watch":
            return _status(405, "MethodNotAllowed", NOT_ALLOWED)
        q = request.query
        if attrs.resource == "nodes":
            return await self._nodes(attrs, q.get("labelSelector"), q.get("fieldSelector"))
        return await self._pods(attrs, q.get("labelSelector"), q.get("fieldSelector"))

    def _not_found(self, resource: str, name: str) -> web.Response:
        return _status(404, "NotFound", f'{resource}.{GROUP} "{name}" not found',
                       {"name": name, "group": GROUP, "kind": resource})  # fmt: skip

    async def _nodes(
        self, attrs: delegation.Attributes, labels: str | None, fields: str | None
    ) -> web.Response:
        if attrs.name:
            try:
                node = await self.client.get(NODES, attrs.name)
            except errors.ApiError:
                return self._not_found("nodes", attrs.name)
            usage = self.storage.node(attrs.name)
            if usage is None:
                return self._not_found("nodes", attrs.name)
            return _json({"kind": "NodeMetrics", "apiVersion": GROUP_VERSION,
                          **node_metrics(node, usage)})  # fmt: skip
        nodes = await self.client.list(NODES, label_selector=labels, field_selector=fields)
        items = []
        for node in nodes.get("items") or []:
            usage = self.storage.node(node["metadata"]["name"])
            if usage is not None:
                items.append(node_metrics(node, usage))
        return _json({"kind": "NodeMetricsList", "apiVersion": GROUP_VERSION,
                      "metadata": {}, "items": items})  # fmt: skip

    async def _pods(
        self, attrs: delegation.Attributes, labels: str | None, fields: str | None
    ) -> web.Response:
        if attrs.name:
            try:
                pod = await self.client.get(PODS, attrs.name, attrs.namespace)
            except errors.ApiError:
                return self._not_found("pods", attrs.name)
            got = self.storage.pod(attrs.namespace, attrs.name)
            if got is None:
                return self._not_found("pods", attrs.name)
            return _json({"kind": "PodMetrics", "apiVersion": GROUP_VERSION,
                          **pod_metrics(pod, got)})  # fmt: skip
        pods = await self.client.list(
            PODS, attrs.namespace or None, label_selector=labels, field_selector=fields
        )
        items = []
        for pod in pods.get("items") or []:
            md = pod["metadata"]
            got = self.storage.pod(md.get("namespace", ""), md["name"])
            if got is not None:
                items.append(pod_metrics(pod, got))
        return _json({"kind": "PodMetricsList", "apiVersion": GROUP_VERSION,
                      "metadata": {}, "items": items})  # fmt: skip
