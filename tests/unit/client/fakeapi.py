"""A small in-memory API server speaking the Kubernetes wire format, for client tests.

It serves the URL layout, ``Status`` error bodies, ``limit``/``continue`` paging,
``resourceVersion`` on lists and watches, newline-delimited watch frames with
``BOOKMARK`` and ``ERROR`` (410 Expired) events, merge and JSON patches, and
records every request so tests can assert what the client sent. It is a test
double for the client, not an API server: no validation, defaulting or admission.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web


def status(code: int, reason: str, message: str, **details: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
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
    return body


def merge_patch(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return patch
    out = dict(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = merge_patch(out.get(k), v)
    return out


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes


@dataclass
class Where:
    prefix: str  # "/api/v1" or "/apis/apps/v1"
    namespace: str
    plural: str
    name: str
    subresource: str

    @property
    def collection(self) -> str:
        return f"{self.prefix}/{self.plural}"


def parse_path(path: str) -> Where:
    segs = [s for s in path.split("/") if s]
    if segs[0] == "api":
        prefix, rest = "/" + "/".join(segs[:2]), segs[2:]
    else:
        prefix, rest = "/" + "/".join(segs[:3]), segs[3:]
    namespace = ""
    if len(rest) >= 3 and rest[0] == "namespaces":
        namespace, rest = rest[1], rest[2:]
    plural = rest[0] if rest else ""
    name = rest[1] if len(rest) > 1 else ""
    sub = rest[2] if len(rest) > 2 else ""
    return Where(prefix, namespace, plural, name, sub)


@dataclass
class FakeApi:
    objects: dict[tuple[str, str, str], dict[str, Any]] = field(default_factory=dict)
    events: list[tuple[int, str, str, dict[str, Any]]] = field(default_factory=list)
    rv: int = 100
    compacted: int = 0
    requests: list[Recorded] = field(default_factory=list)
    failures: list[tuple[int, dict[str, Any] | bytes, dict[str, str]]] = field(default_factory=list)
    resources: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    watch_bookmark_every: float | None = None
    _changed: asyncio.Event = field(default_factory=asyncio.Event)
    _closing: asyncio.Event = field(default_factory=asyncio.Event)

    # -- direct manipulation for tests ------------------------------------------

    def put(self, collection: str, obj: dict[str, Any], event: str = "ADDED") -> dict[str, Any]:
        self.rv += 1
        obj = copy.deepcopy(obj)
        meta = obj.setdefault("metadata", {})
        meta["resourceVersion"] = str(self.rv)
        meta.setdefault("uid", str(uuid.uuid4()))
        key = (collection, meta.get("namespace", ""), meta["name"])
        self.objects[key] = obj
        self._emit(event, collection, obj)
        return obj

    def remove(self, collection: str, namespace: str, name: str) -> dict[str, Any]:
        obj = self.objects.pop((collection, namespace, name))
        self.rv += 1
        obj = copy.deepcopy(obj)
        obj["metadata"]["resourceVersion"] = str(self.rv)
        self._emit("DELETED", collection, obj)
        return obj

    def bookmark(self, collection: str) -> None:
        self._emit("BOOKMARK", collection, {"metadata": {"resourceVersion": str(self.rv)}})

    def fail_next(
        self, code: int, body: dict[str, Any] | bytes, headers: dict[str, str] | None = None
    ) -> None:
        self.failures.append((code, body, headers or {}))

    def end_watches(self) -> None:
        self._closing.set()
        self._wake()

    def _emit(self, kind: str, collection: str, obj: dict[str, Any]) -> None:
        self.events.append((self.rv, kind, collection, obj))
        self._wake()

    def _wake(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    # -- the HTTP side --------------------------------------------------------------

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self.handle)
        return app

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        self.requests.append(
            Recorded(request.method, request.path, dict(request.query), dict(request.headers), body)
        )
        if self.failures:
            code, fbody, headers = self.failures.pop(0)
            data = fbody if isinstance(fbody, bytes) else orjson.dumps(fbody)
            return web.Response(status=code, body=data, headers=headers)
        segs = [s for s in request.path.split("/") if s]
        if request.path in self.resources:
            return self.json({"kind": "APIResourceList", "resources": self.resources[request.path]})
        if len(segs) < 3:
            return self.json(
                status(404, "NotFound", "the server could not find the requested resource"), 404
            )
        where = parse_path(request.path)
        q = request.query
        if request.method == "GET" and q.get("watch") in ("true", "1"):
            return await self.watch(request, where)
        if request.method == "GET" and not where.name:
            return self.list(where, q)
        if request.method == "GET":
            return self.get(where)
        if request.method == "POST":
            return self.create(where, orjson.loads(body))
        if request.method == "PUT":
            return self.update(where, orjson.loads(body))
        if request.method == "PATCH":
            return self.patch(where, body, request.headers.get("Content-Type", ""))
        if request.method == "DELETE":
            return self.delete(where, orjson.loads(body) if body else {})
        return self.json(status(405, "MethodNotAllowed", "method not allowed"), 405)

    def json(self, body: Any, code: int = 200) -> web.Response:
        return web.Response(status=code, body=orjson.dumps(body), content_type="application/json")

    def not_found(self, where: Where) -> web.Response:
        return self.json(
            status(
                404,
                "NotFound",
                f'{where.plural} "{where.name}" not found',
                name=where.name,
                kind=where.plural,
            ),
            404,
        )

    def get(self, where: Where) -> web.Response:
        obj = self.objects.get((where.collection, where.namespace, where.name))
        if obj is None:
            return self.not_found(where)
        return self.json(obj)

    def list(self, where: Where, q: Any) -> web.Response:
        items = [
            o
            for (coll, ns, _), o in sorted(self.objects.items())
            if coll == where.collection and (not where.namespace or ns == where.namespace)
        ]
        if sel := q.get("labelSelector"):
            want = dict(part.split("=", 1) for part in sel.split(","))
            items = [
                o
                for o in items
                if all(o["metadata"].get("labels", {}).get(k) == v for k, v in want.items())
            ]
        start = int(q.get("continue") or 0)
        limit = int(q.get("limit") or 0)
        page = items[start : start + limit] if limit else items[start:]
        meta: dict[str, Any] = {"resourceVersion": str(self.rv)}
        if limit and start + limit < len(items):
            meta["continue"] = str(start + limit)
            meta["remainingItemCount"] = len(items) - start - limit
        return self.json({"kind": "List", "apiVersion": "v1", "metadata": meta, "items": page})

    def create(self, where: Where, obj: dict[str, Any]) -> web.Response:
        meta = obj.setdefault("metadata", {})
        if where.namespace:
            meta["namespace"] = where.namespace
        if (where.collection, where.namespace, meta.get("name")) in self.objects:
            return self.json(
                status(409, "AlreadyExists", f'{where.plural} "{meta["name"]}" already exists'),
                409,
            )
        return self.json(self.put(where.collection, obj), 201)

    def update(self, where: Where, obj: dict[str, Any]) -> web.Response:
        key = (where.collection, where.namespace, where.name)
        old = self.objects.get(key)
        if old is None:
            return self.not_found(where)
        rv = obj.get("metadata", {}).get("resourceVersion")
        if rv and rv != old["metadata"]["resourceVersion"]:
            return self.json(
                status(
                    409,
                    "Conflict",
                    f'Operation cannot be fulfilled on {where.plural} "{where.name}": the object'
                    " has been modified; please apply your changes to the latest version and try"
                    " again",
                ),
                409,
            )
        return self.json(self.put(where.collection, obj, "MODIFIED"))

    def patch(self, where: Where, body: bytes, content_type: str) -> web.Response:
        key = (where.collection, where.namespace, where.name)
        old = self.objects.get(key)
        if old is None:
            return self.not_found(where)
        patch = orjson.loads(body)
        if content_type == "application/json-patch+json":
            new = copy.deepcopy(old)
            for op in patch:  # enough of RFC 6902 for the tests: add/replace on a path
                *parents, last = [p for p in op["path"].split("/") if p]
                target = new
                for p in parents:
                    target = target.setdefault(p, {})
                target[last] = op["value"]
        else:
            new = merge_patch(old, patch)
        return self.json(self.put(where.collection, new, "MODIFIED"))

    def delete(self, where: Where, opts: dict[str, Any]) -> web.Response:
        key = (where.collection, where.namespace, where.name)
        if key not in self.objects:
            return self.not_found(where)
        self.remove(*key)
        return self.json(
            {
                "kind": "Status",
                "apiVersion": "v1",
                "status": "Success",
                "details": {"name": where.name, "kind": where.plural},
            }
        )

    async def watch(self, request: web.Request, where: Where) -> web.StreamResponse:
        q = request.query
        from_rv = int(q.get("resourceVersion") or self.rv)
        resp = web.StreamResponse()
        resp.content_type = "application/json"
        await resp.prepare(request)
        if from_rv and from_rv < self.compacted:
            await self._send(
                resp,
                "ERROR",
                status(410, "Expired", f"too old resource version: {from_rv} ({self.compacted})"),
            )
            return resp
        timeout = float(q["timeoutSeconds"]) if "timeoutSeconds" in q else None
        bookmarks = q.get("allowWatchBookmarks") == "true"
        pos = next((i for i, e in enumerate(self.events) if e[0] > from_rv), len(self.events))
        with contextlib.suppress(TimeoutError, ConnectionResetError):
            async with asyncio.timeout(timeout):
                while not self._closing.is_set():
                    waiter = self._changed
                    while pos < len(self.events):
                        _, kind, coll, obj = self.events[pos]
                        pos += 1
                        if coll != where.collection:
                            continue
                        if kind == "BOOKMARK":
                            if bookmarks:
                                await self._send(resp, kind, obj)
                            continue
                        ns = obj["metadata"].get("namespace", "")
                        if where.namespace and ns != where.namespace:
                            continue
                        await self._send(resp, kind, obj)
                    await waiter.wait()
        return resp

    async def _send(self, resp: web.StreamResponse, kind: str, obj: dict[str, Any]) -> None:
        await resp.write(orjson.dumps({"type": kind, "object": obj}) + b"\n")


@contextlib.asynccontextmanager
async def serving(api: FakeApi, ssl_context: Any = None) -> AsyncIterator[str]:
    """Run ``api`` on a free loopback port; yields its base URL."""
    runner = web.AppRunner(api.app(), shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ssl_context)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    scheme = "https" if ssl_context else "http"
    try:
        yield f"{scheme}://127.0.0.1:{port}"
    finally:
        api.end_watches()
        await runner.cleanup()
