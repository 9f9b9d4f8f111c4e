"""The aggregation layer: which group-versions extension servers answer, whether they are
available, and the requests and discovery that go to them.

Mirrors kube-aggregator's ``pkg/apiserver/apiserver.go`` (``APIAggregator``: a proxy handler
per APIService, the local/remote split), ``pkg/controllers/autoregister`` (the local
APIServices exist and come back when deleted), ``pkg/controllers/status/local`` and
``status/remote/remote_available_controller.go`` (the ``Available`` condition: the Service,
its port and endpoints, then a GET of ``/apis/<group>/<version>`` as
``system:kube-aggregator`` in ``system:masters`` within 5 s; re-checked every ``resync``
seconds and at once when the APIService or its endpoint changes; status written only when
it changes).

The API server's own handler chain authenticates and authorizes a request first; only then
does :meth:`Aggregator.route` decide whether it is proxied.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

import aiohttp
import orjson
from aiohttp import web

from pyk8s.api import errors, scheme
from pyk8s.apiserver import authn, requestinfo
from pyk8s.apiserver.aggregator import apiservice, discovery, frontproxy, proxy, resolver
from pyk8s.apiserver.registry.generic.store import DeleteOptions, ListOptions, WriteOptions
from pyk8s.apiserver.registry.rest import REST

log = logging.getLogger(__name__)

Obj = dict[str, Any]
MANAGER = "kube-apiserver"
AGGREGATOR_USER = authn.User("system:kube-aggregator", groups=("system:masters",))
CHECK_TIMEOUT = 5.0


class Aggregator:
    def __init__(
        self,
        rests: dict[tuple[str, str, str], REST],
        table: Callable[[], scheme.Scheme],
        front_proxy: frontproxy.FrontProxy,
        *,
        resync: float = 10.0,
        tick: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rests = rests
        self.table = table
        """The resources this server serves now (custom resources come and go)."""
        self.transport = proxy.Transport(front_proxy)
        self.resync = resync
        self.tick = tick
        self.clock = clock
        self._remote: dict[tuple[str, str], Obj] = {}
        """APIServices with ``spec.service`` by (group, version), as last read."""
        self._resources: dict[tuple[str, str], Obj] = {}
        """The ``APIResourceList`` each available extension returned."""
        self._checked: dict[str, tuple[float, bytes]] = {}
        """APIService name -> (when, what was checked: spec and endpoint)."""

    @property
    def _apiservices(self) -> REST:
        return self.rests[(apiservice.GROUP, "v1", apiservice.PLURAL)]

    # -- start-up

    async def bootstrap(self, client_ca_pem: str, request_header_ca_pem: str) -> None:
        """The authentication ConfigMap and the local APIServices."""
        cms = self.rests[("", "v1", "configmaps")].store
        cm = frontproxy.authentication_configmap(client_ca_pem, request_header_ca_pem)
        ns, name = frontproxy.CONFIGMAP_NAMESPACE, frontproxy.CONFIGMAP_NAME
        try:
            old = await cms.get(ns, name)
        except errors.NotFound:
            with contextlib.suppress(errors.AlreadyExists):
                await cms.create(ns, cm, WriteOptions(field_manager=MANAGER))
        else:
            if old.get("data") != cm["data"]:
                cm["metadata"]["resourceVersion"] = old["metadata"]["resourceVersion"]
                await cms.update(ns, name, cm, WriteOptions(field_manager=MANAGER))
        await self.sync()

    async def run(self) -> None:
        try:
            while True:
                try:
                    await self.sync()
                except Exception:
                    log.exception("aggregator: APIService sync failed")
                await asyncio.sleep(self.tick)
        finally:
            await self.transport.close()

    # -- the controllers

    async def sync(self) -> None:
        listed = await self._apiservices.store.list("", ListOptions())
        items: list[Obj] = listed.get("items") or []
        by_name = {i["metadata"]["name"]: i for i in items}
        wanted = apiservice.locals_of(self.table())
        for want in wanted:
            name = want["metadata"]["name"]
            if name not in by_name:
                with contextlib.suppress(errors.AlreadyExists):
                    by_name[name] = await self._apiservices.store.create(
                        "", want, WriteOptions(field_manager=MANAGER)
                    )
        names = {w["metadata"]["name"] for w in wanted}
        for name, obj in list(by_name.items()):
            if apiservice.stale_custom(obj, names):
                # a custom resource group-version no longer served (crdregistration)
                with contextlib.suppress(errors.NotFound):
                    await self._apiservices.store.delete("", name, DeleteOptions())
                del by_name[name]
        remote: dict[tuple[str, str], Obj] = {}
        for name, obj in by_name.items():
            ref = apiservice.service_of(obj)
            if ref is None:
                await self._set_available(
                    obj, "True", apiservice.LOCAL_REASON, apiservice.LOCAL_MESSAGE
                )
                continue
            spec = obj.get("spec") or {}
            gv = (spec.get("group", ""), spec.get("version", ""))
            remote[gv] = await self._check(name, obj, ref)
        self._remote = remote
        for gone_gv in set(self._resources) - set(remote):
            self._resources.pop(gone_gv, None)
        for gone in set(self._checked) - set(by_name):
            self._checked.pop(gone, None)

    async def _check(self, name: str, obj: Obj, ref: apiservice.ServiceRef) -> Obj:
        spec = obj.get("spec") or {}
        gv = (spec.get("group", ""), spec.get("version", ""))
        try:
            location = await resolver.resolve(self.rests, ref)
        except resolver.ResolveError as e:
            self._resources.pop(gv, None)
            self._checked.pop(name, None)
            return await self._set_available(obj, e.status, e.reason, e.message)
        fingerprint = orjson.dumps([spec, location], option=orjson.OPT_SORT_KEYS)
        last = self._checked.get(name)
        now = self.clock()
        if last is not None and last[1] == fingerprint and now - last[0] < self.resync:
            return obj
        self._checked[name] = (now, fingerprint)
        path = f"/apis/{gv[0]}/{gv[1]}" if gv[0] else f"/api/{gv[1]}"
        host, port = location
        url = f"https://{host}:{port}{path}"
        try:
            body = await self._discover(spec, ref, url)
        except Exception as e:
            self._resources.pop(gv, None)
            message = f"failing or missing response from {url}: {_describe(e)}"
            return await self._set_available(obj, "False", "FailedDiscoveryCheck", message)
        self._resources[gv] = body
        return await self._set_available(obj, "True", "Passed", "all checks passed")

    async def _discover(self, spec: Obj, ref: apiservice.ServiceRef, url: str) -> Obj:
        # upstream checks with TLS verification off: the answer only says "it is up"
        session = await self.transport.session()
        ctx = await self.transport.ssl_context({"insecureSkipTLSVerify": True})
        headers = [*proxy.user_headers(AGGREGATOR_USER), ("Accept", "application/json")]
        async with session.get(
            url,
            headers=headers,
            ssl=ctx,
            allow_redirects=False,
            timeout=aiohttp.ClientTimeout(total=CHECK_TIMEOUT),
        ) as resp:
            raw = await resp.read()
            if not 200 <= resp.status < 300:
                raise RuntimeError(f"bad status from {url}: {resp.status}")
        try:
            doc = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return {}
        return doc if isinstance(doc, dict) else {}

    async def _set_available(self, obj: Obj, status: str, reason: str, message: str) -> Obj:
        new = apiservice.with_condition(obj, status, reason, message)
        if apiservice.same_condition(apiservice.condition(obj), apiservice.condition(new)):
            return obj
        old = apiservice.condition(obj)
        if old is None or old.get("status") != status:
            log.info(
                "APIService %s: Available=%s (%s) %s",
                obj["metadata"]["name"], status, reason, message,
            )  # fmt: skip
        rest = self._apiservices
        try:
            updated, _ = await rest.store.update(
                "",
                obj["metadata"]["name"],
                new,
                WriteOptions(field_manager=MANAGER, subresource="status"),
                strategy=rest.subresources["status"],
            )
        except (errors.Conflict, errors.NotFound):
            return obj  # changed or gone meanwhile: the next tick sees it
        return updated

    # -- requests

    def route(self, info: requestinfo.RequestInfo) -> Obj | None:
        """The APIService that answers this request, or None when the server does."""
        if info.api_prefix != "apis" or not info.api_group or not info.api_version:
            return None
        if info.api_version in self.table().versions_of(info.api_group):
            return None
        return self._remote.get((info.api_group, info.api_version))

    async def proxy(self, request: web.Request, obj: Obj, user: authn.User) -> web.StreamResponse:
        ref = apiservice.service_of(obj)
        if ref is None or not apiservice.is_available(obj):
            return proxy.error("service unavailable")
        try:
            location = await resolver.resolve(self.rests, ref)
        except resolver.ResolveError as e:
            log.warning("aggregator: resolving %s/%s: %s", ref.namespace, ref.name, e.message)
            return proxy.error("service unavailable")
        return await proxy.forward(
            self.transport, request, obj.get("spec") or {}, ref, location, user
        )

    # -- discovery

    def available(self) -> list[discovery.GroupVersion]:
        out = []
        for (group, version), obj in self._remote.items():
            if not apiservice.is_available(obj) or version in self.table().versions_of(group):
                continue
            spec = obj.get("spec") or {}
            out.append(
                discovery.GroupVersion(
                    group,
                    version,
                    int(spec.get("groupPriorityMinimum") or 0),
                    int(spec.get("versionPriority") or 0),
                    self._resources.get((group, version), {}),
                )
            )
        return out

    def extend_group_list(self, doc: Obj) -> Obj:
        return discovery.extend_group_list(doc, self.available())

    def extend_aggregated(self, doc: Obj) -> Obj:
        return discovery.extend_aggregated(doc, self.available())

    def api_group(self, group: str) -> Obj | None:
        for g, versions in discovery.by_group(self.available()):
            if g == group:
                return {"kind": "APIGroup", "apiVersion": "v1", **discovery.group_doc(g, versions)}
        return None


def _describe(e: BaseException) -> str:
    if isinstance(e, TimeoutError):
        return "context deadline exceeded"
    return str(e) or type(e).__name__
