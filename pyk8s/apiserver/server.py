"""The API server: HTTPS, the handler chain, and ``run(config, storage, ready)``.

The chain follows k8s.io/apiserver ``pkg/server/config.go``
``DefaultBuildHandlerChain``: request info -> authentication -> authorization
-> the handler (discovery, health, or the resource's REST verb). Every
:class:`~pyk8s.api.errors.ApiError` becomes a ``Status`` body here, in one place.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import platform
import ssl
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson
from aiohttp import web

import pyk8s
from pyk8s.api import errors, scheme
from pyk8s.api.serviceaccount import jwt as sa_jwt
from pyk8s.apiserver import (
    authn,
    authz,
    bootstrap,
    clientca,
    discovery,
    health,
    impersonation,
    kubeconfig,
    metrics,
    negotiation,
    openapi,
    openapi_enums,
    pki,
    requestinfo,
)
from pyk8s.apiserver.aggregator import frontproxy
from pyk8s.apiserver.aggregator import server as aggregator_server
from pyk8s.apiserver.apiextensions import registry as crd_registry
from pyk8s.apiserver.apiextensions import scale as cr_scale
from pyk8s.apiserver.handlers import create, delete, get, review, scale, update, watch
from pyk8s.apiserver.handlers import list as list_handler
from pyk8s.apiserver.handlers import patch as patch_handler
from pyk8s.apiserver.handlers.scope import Scope, json_response, status_response
from pyk8s.apiserver.proxy import handler as proxy_handler
from pyk8s.apiserver.rbac import authorizer as rbac_authorizer
from pyk8s.apiserver.rbac import escalation
from pyk8s.apiserver.rbac import node as node_authorizer
from pyk8s.apiserver.rbac import reconcile as rbac_reconcile
from pyk8s.apiserver.registry import rest
from pyk8s.apiserver.registry.core.node import proxy as node_proxy
from pyk8s.apiserver.registry.core.pod import log as pod_log
from pyk8s.apiserver.registry.core.pod import proxy as pod_proxy
from pyk8s.apiserver.registry.core.pod import storage as pod_storage
from pyk8s.apiserver.registry.core.service import proxy as service_proxy
from pyk8s.apiserver.registry.generic import store as generic
from pyk8s.apiserver.schemas import Schemas
from pyk8s.apiserver.serviceaccount import authenticator as sa_authenticator
from pyk8s.apiserver.serviceaccount import tokenrequest
from pyk8s.apiserver.settings import APIServerConfig
from pyk8s.storage import interface as storage

if TYPE_CHECKING:
    from pyk8s.apiserver import protobuf

log = logging.getLogger(__name__)

_PROXIED = frozenset((("", "nodes"), ("", "pods"), ("", "services")))
SCOPE_KEY = web.RequestKey("pyk8s.scope", Scope)
"""The request's Scope, kept on it so an error answer carries the scope's warnings."""
ENDPOINTS_DEPRECATED = "v1 Endpoints is deprecated in v1.33+; use discovery.k8s.io/v1 EndpointSlice"
ANONYMOUS_PATHS = ("/version", "/healthz", "/livez", "/readyz")


def version_info() -> dict[str, str]:
    git_version = pyk8s.KUBERNETES_VERSION + "+pyk8s"
    major, minor = pyk8s.KUBERNETES_VERSION.lstrip("v").split(".")[:2]
    return {
        "major": major,
        "minor": minor,
        "emulationMajor": major,
        "emulationMinor": minor,
        "minCompatibilityMajor": major,
        "minCompatibilityMinor": str(int(minor) - 1),
        "gitVersion": git_version,
        "gitCommit": "pyk8s-" + pyk8s.__version__,
        "gitTreeState": "clean",
        "buildDate": "2026-01-01T00:00:00Z",
        "goVersion": "python" + platform.python_version(),
        "compiler": "cpython",
        "platform": f"linux/{_arch()}",
    }


def _arch() -> str:
    m = platform.machine().lower()
    return {"x86_64": "amd64", "aarch64": "arm64"}.get(m, m)


@dataclass
class APIServer:
    """The aiohttp application and what its handlers share."""

    config: APIServerConfig
    backend: storage.Interface
    table: scheme.Scheme = field(default_factory=lambda: scheme.DEFAULT)
    authenticator: authn.Authenticator = field(default_factory=authn.Authenticator)
    authorizer: authz.Authorizer | None = None
    """None: built from ``config.authorization_mode``."""
    metrics: metrics.Registry = field(default_factory=metrics.Registry)
    stopping: asyncio.Event = field(default_factory=asyncio.Event)
    codec: protobuf.Codec | None = None
    codec_loader: Callable[[], protobuf.Codec | None] | None = None
    """Loads ``codec`` (blocking) on the first protobuf body, when it is not given."""
    schemas: Schemas | None = None
    token_issuer: tokenrequest.Issuer | None = None
    """Signs TokenRequests; None: the ``token`` subresource answers 404 and no
    service-account tokens are accepted."""
    ready: bool = False
    aggregator: aggregator_server.Aggregator | None = None
    """Proxies the group-versions of APIServices with a ``spec.service``; None: none are."""

    def __post_init__(self) -> None:
        self._openapi_lock = asyncio.Lock()
        self._openapi_builder: openapi.Builder | None = None
        self._openapi_v2_pb: bytes | None = None
        self._kubelet_ssl_context: ssl.SSLContext | None = None
        self._proxy_ssl_context: ssl.SSLContext | None = None
        self._codec_loading: asyncio.Future[protobuf.Codec | None] | None = None
        self.rest = rest.build(
            self.backend,
            self.table,
            service_cidr=self.config.service_cidr,
            node_port_range=self.config.service_node_port_range,
            toleration_seconds=(
                self.config.default_not_ready_toleration_seconds,
                self.config.default_unreachable_toleration_seconds,
            ),
            disabled_admission=self.config.disable_admission_plugins,
        )
        self.builtin_table = self.table
        self.custom = crd_registry.CustomResources(
            self.backend,
            self.rest[crd_registry.CRDS].store,
            builtin=self.builtin_table,
            merge_defs=self.schemas.defs if self.schemas is not None else None,
            disabled_admission=self.config.disable_admission_plugins,
            on_change=self._custom_resources_changed,
        )
        self.rbac_cache = rbac_authorizer.PolicyCache(
            {p: self.rest[(RBAC_GROUP, "v1", p)].store for p in RBAC_RESOURCES}
        )
        self.rule_resolver = rbac_authorizer.RuleResolver(self.rbac_cache)
        self.authz: authz.Authorizer = self.authorizer or build_authorizer(
            self.config.authorization_mode, self.rule_resolver
        )
        for plural in RBAC_RESOURCES:
            self.rest[(RBAC_GROUP, "v1", plural)].store.admit.append(
                escalation.Check(plural, lambda: self.authz, self.rule_resolver)
            )
        if self.token_issuer is not None and self.authenticator.service_accounts is None:
            issuers = (self.token_issuer.issuer,)
            self.authenticator.service_accounts = sa_authenticator.ServiceAccountAuthenticator(
                [self.token_issuer.key.public_key()],
                issuers,
                self.token_issuer.audiences,
                self._get_core,
            )

        self.health_checks = [
            health.NamedCheck("ping", health.ping),
            health.NamedCheck("log", health.ping),
            health.NamedCheck("etcd", self._check_storage),
        ]
        self.ready_checks = [
            *self.health_checks,
            health.NamedCheck("informer-sync", health.ping),
            health.NamedCheck("poststarthook/bootstrap-controller", self._check_ready),
            health.NamedCheck("shutdown", self._check_not_stopping),
        ]

    def _custom_resources_changed(self) -> None:
        """The CRDs changed what is served: a new table (discovery, routing, OpenAPI)."""
        for key in [k for k, r in self.rest.items() if r.custom is not None]:
            del self.rest[key]
        for key, served in self.custom.served.items():
            self.rest[key] = served.rest
        self.table = scheme.Scheme(self.builtin_table.resources + self.custom.resources)
        self._openapi_builder = None
        self._openapi_v2_pb = None

    def _openapi_schemas(self) -> Schemas | None:
        if self.schemas is None or not self.custom.served:
            return self.schemas
        return Schemas({**self.schemas.defs, **self.custom.openapi_definitions()})

    async def _get_core(self, plural: str, namespace: str, name: str) -> dict[str, Any]:
        """A stored core/v1 object (service-account token checks and TokenRequest)."""
        return await self.rest[("", "v1", plural)].store.get(namespace, name)

    async def _codec_for(self, request: web.Request) -> protobuf.Codec | None:
        """The protobuf codec; loaded (once, in a thread) by the first protobuf body."""
        if self.codec is not None or self.codec_loader is None:
            return self.codec
        if "protobuf" not in (request.headers.get("Content-Type") or ""):
            return None
        return await self._load_codec()

    async def _load_codec(self) -> protobuf.Codec | None:
        loader = self.codec_loader
        if loader is None:
            return self.codec
        if self._codec_loading is None:
            self._codec_loading = asyncio.ensure_future(asyncio.to_thread(loader))
        codec = await asyncio.shield(self._codec_loading)
        self.codec, self.codec_loader = codec, None
        return codec

    async def _check_storage(self) -> None:
        await self.backend.current_revision()

    async def _check_ready(self) -> None:
        if not self.ready:
            raise RuntimeError("bootstrap not done")

    async def _check_not_stopping(self) -> None:
        if self.stopping.is_set():
            raise RuntimeError("shutting down")

    def app(self) -> web.Application:
        app = web.Application(
            client_max_size=self.config.max_body_bytes + 1024,
            handler_args={"max_field_size": 65536},
        )
        app.router.add_route("*", "/{tail:.*}", self.handle)
        return app

    # -- the chain

    async def handle(self, request: web.Request) -> web.StreamResponse:
        started = time.monotonic()
        info = requestinfo.parse(request.method, request.path, request.query)
        code = 500
        try:
            resp = await self._handle(request, info)
            code = resp.status
            return _maybe_pretty(request, resp)
        except errors.ApiError as e:
            code = e.code
            resp = status_response(e)
            scope = request.get(SCOPE_KEY)
            if scope is not None:
                scope.add_warnings(resp)  # upstream's warning headers go out with errors too
            return _maybe_pretty(request, resp)
        except Exception as e:
            log.exception("%s %s failed", request.method, request.path_qs)
            err = errors.InternalError(f"Internal error occurred: {e}")
            return status_response(err)
        finally:
            if log.isEnabledFor(logging.DEBUG):
                log.debug(
                    "%s %s %d %.1fms",
                    request.method,
                    request.path_qs,
                    code,
                    (time.monotonic() - started) * 1000,
                )
            if info.is_resource_request:
                self.metrics.observe(
                    verb=metrics.canonical_verb(
                        info.verb, request.method, request.headers.get("Content-Type", "")
                    ),
                    group=info.api_group,
                    version=info.api_version,
                    resource=info.resource,
                    subresource=info.subresource,
                    scope=metrics.clean_scope(info.verb, info.namespace, info.name),
                    code=code,
                    seconds=time.monotonic() - started,
                )

    async def _handle(
        self, request: web.Request, info: requestinfo.RequestInfo
    ) -> web.StreamResponse:
        user = await self._authenticate(request)
        if user is None:
            if not any(
                request.path == p or request.path.startswith(p + "/") for p in ANONYMOUS_PATHS
            ):
                raise errors.Unauthorized("Unauthorized")
            user = authn.ANONYMOUS_USER
        else:
            await self.rbac_cache.ensure_fresh()
            user = impersonation.impersonate(request.headers, user, self.authz)
        authn.current_user.set(user)
        attrs = authz.Attributes(
            user=user,
            verb=info.verb,
            resource_request=info.is_resource_request,
            api_group=info.api_group,
            api_version=info.api_version,
            namespace=info.namespace,
            resource=info.resource,
            subresource=info.subresource,
            name=info.name,
            path=request.path,
        )
        decision, reason = self.authz.authorize(attrs)
        if decision is not authz.Decision.ALLOW:
            raise _forbidden(attrs, reason)
        if self.aggregator is not None and (target := self.aggregator.route(info)) is not None:
            return await self.aggregator.proxy(request, target, user)
        if not info.is_resource_request:
            return await self._non_resource(request, info)
        try:
            return await self._resource(request, info, user)
        finally:
            if info.api_group == RBAC_GROUP and info.verb not in ("get", "list", "watch"):
                self.rbac_cache.invalidate()

    async def _authenticate(self, request: web.Request) -> authn.User | None:
        peercert = None
        transport = request.transport
        if transport is not None:
            peercert = transport.get_extra_info("peercert")
        try:
            return await self.authenticator.authenticate(
                request.headers.get("Authorization"), peercert
            )
        except authn.AuthenticationError:
            raise errors.Unauthorized("Unauthorized") from None

    # -- non-resource paths

    async def _non_resource(
        self, request: web.Request, info: requestinfo.RequestInfo
    ) -> web.StreamResponse:
        path = request.path.rstrip("/") or "/"
        if request.method not in ("GET", "HEAD"):
            if path in ("/", "/version", "/healthz", "/livez", "/readyz", "/metrics", "/api",
                        "/apis"):  # fmt: skip
                raise errors.MethodNotAllowed(
                    "the server does not allow this method on the requested resource"
                )
            raise errors.NotFound.no_resource()
        if path == "/version":
            return json_response(version_info())
        for endpoint, checks in (
            ("/healthz", self.health_checks),
            ("/livez", self.health_checks),
            ("/readyz", self.ready_checks),
        ):
            if path == endpoint or path.startswith(endpoint + "/"):
                return await health.serve(request, endpoint, checks)
        if path == "/metrics":
            return web.Response(
                text=self.metrics.render(),
                content_type="text/plain",
                charset="utf-8",
                headers={"X-Content-Type-Options": "nosniff"},
            )
        if path == "/":
            return json_response({"paths": self._paths()})
        if path in (OIDC_CONFIG_PATH, JWKS_PATH) and self.token_issuer is not None:
            keys = [self.token_issuer.key.public_key()]
            if path == JWKS_PATH:
                resp = json_response(tokenrequest.jwks(keys))
                resp.headers["Content-Type"] = "application/jwk-set+json"
                return resp
            jwks_uri = f"https://{request.host or self.config.client_host}{JWKS_PATH}"
            return json_response(
                tokenrequest.openid_configuration(self.token_issuer.issuer, jwks_uri)
            )
        if path in ("/openapi/v2", "/openapi/v3") or path.startswith("/openapi/v3/"):
            # kubectl asks /openapi/v2 for protobuf only and parses any 200 as protobuf.
            accept = request.headers.get("Accept") or ""
            from pyk8s.apiserver import openapi_v2proto

            if path == "/openapi/v2" and openapi_v2proto.MEDIA_TYPE in accept:
                return await self._openapi_v2_protobuf()
            negotiation.choose(accept or None, allow_table=False)
            return await self._openapi(path)
        if path == "/api":
            return self._discovery(request, legacy=True)
        if path == "/apis":
            return self._discovery(request, legacy=False)
        if info.api_prefix == "api" and info.api_version:
            doc = discovery.api_resource_list(self.table, "", info.api_version)
            if doc is None:
                raise errors.NotFound.no_resource()
            return json_response(doc)
        if info.api_prefix == "apis" and info.api_group:
            if info.api_version:
                doc = discovery.api_resource_list(self.table, info.api_group, info.api_version)
            else:
                doc = discovery.api_group(self.table, info.api_group)
                if doc is None and self.aggregator is not None:
                    doc = self.aggregator.api_group(info.api_group)
            if doc is None:
                raise errors.NotFound.no_resource()
            return json_response(doc)
        raise errors.NotFound.no_resource()

    async def _openapi(self, path: str) -> web.Response:
        if self.schemas is None:
            raise errors.NotFound.no_resource()
        async with self._openapi_lock:
            if self._openapi_builder is None:
                schemas = self._openapi_schemas()
                assert schemas is not None
                self._openapi_builder = openapi.Builder(self.table, schemas, self.custom.resources)
            builder = self._openapi_builder
            if path == "/openapi/v2":
                data = await asyncio.to_thread(builder.v2_document)
            elif path == "/openapi/v3":
                data = await asyncio.to_thread(builder.v3_root)
            else:
                parts = path[len("/openapi/v3/") :].split("/")
                doc: bytes | None = None
                if len(parts) == 2 and parts[0] == "api":
                    doc = await asyncio.to_thread(builder.v3_document, "", parts[1])
                elif len(parts) == 3 and parts[0] == "apis":
                    doc = await asyncio.to_thread(builder.v3_document, parts[1], parts[2])
                if doc is None:
                    raise errors.NotFound.no_resource()
                data = doc
        return web.Response(body=data, content_type="application/json")

    async def _openapi_v2_protobuf(self) -> web.Response:
        from pyk8s.apiserver import openapi_v2proto

        encoder = openapi_v2proto.Encoder.create(await self._load_codec())
        if self.schemas is None or encoder is None:
            raise errors.NotAcceptable(
                "the OpenAPI v2 document is only available as JSON on this server"
            )
        async with self._openapi_lock:
            if self._openapi_builder is None:
                schemas = self._openapi_schemas()
                assert schemas is not None
                self._openapi_builder = openapi.Builder(self.table, schemas, self.custom.resources)
            builder = self._openapi_builder
            if self._openapi_v2_pb is None:

                def build() -> bytes:
                    return encoder.encode(orjson.loads(builder.v2_document()))

                self._openapi_v2_pb = await asyncio.to_thread(build)
        return web.Response(
            body=self._openapi_v2_pb, headers={"Content-Type": openapi_v2proto.CONTENT_TYPE}
        )

    def _discovery(self, request: web.Request, *, legacy: bool) -> web.Response:
        target = negotiation.choose(
            request.headers.get("Accept"), allow_table=False, discovery=True
        )
        if target.output is negotiation.Output.DISCOVERY:
            body = discovery.aggregated(self.table, legacy=legacy, version=target.version)
            if not legacy and self.aggregator is not None:
                body = self.aggregator.extend_aggregated(body)
            resp = json_response(body)
            resp.headers["Content-Type"] = discovery.AGGREGATED_CONTENT_TYPE.format(
                v=target.version
            )
            resp.headers["Vary"] = "Accept"
            return resp
        if legacy:
            host = request.host or f"{self.config.client_host}:{self.config.https_port}"
            return json_response(discovery.api_versions(host))
        doc = discovery.api_group_list(self.table)
        if self.aggregator is not None:
            doc = self.aggregator.extend_group_list(doc)
        return json_response(doc)

    def _paths(self) -> list[str]:
        paths = {"/api", "/api/v1", "/apis", "/healthz", "/livez", "/readyz", "/metrics",
                 "/openapi/v2", "/openapi/v3",
                 "/version", "/healthz/ping", "/livez/ping", "/readyz/ping"}  # fmt: skip
        for gv in self.table.group_versions():
            if gv.group:
                paths.add(f"/apis/{gv.group}")
                paths.add(f"/apis/{gv.group}/{gv.version}")
        return sorted(paths)

    # -- resources

    async def _resource(
        self, request: web.Request, info: requestinfo.RequestInfo, user: authn.User
    ) -> web.StreamResponse:
        res = self.table.lookup(info.api_group, info.api_version, info.resource)
        if res is None:
            raise errors.NotFound.no_resource()
        verb = info.verb
        if info.subresource:
            sub = res.subresource(info.subresource)
            if sub is None:
                raise errors.NotFound.no_resource()
            allowed = sub.verbs
        else:
            allowed = res.verbs
        if verb not in allowed and not (verb == "watch" and "watch" in allowed):
            raise errors.MethodNotAllowed(
                f"the server does not allow this method on the requested resource"
                f" ({res.plural}{'/' + info.subresource if info.subresource else ''})"
            )
        codec = await self._codec_for(request)
        if (res.group, res.plural) == ("", "bindings") and verb == "create":
            pods = self.rest[("", "v1", "pods")]
            pscope = Scope(request, info, res, pods, user, self.config.max_body_bytes, codec)
            body = await pscope.body("Binding")
            name = (
                ((body or {}).get("metadata") or {}).get("name", "")
                if isinstance(body, dict)
                else ""
            )
            out = await pod_storage.bind(pods.store, info.namespace, name, body)
            return json_response(out, 201)
        if (res.group, res.plural) == ("", "componentstatuses"):
            return await self._component_statuses(request, info, res, user)
        if not res.stored:
            return await review.handle(request, res, user, self.authz, codec, self.authenticator)
        r = self.rest[(res.group, res.version, res.plural)]
        scope = Scope(request, info, res, r, user, self.config.max_body_bytes, codec, self.schemas)
        request[SCOPE_KEY] = scope
        if res.namespaced and not info.namespace and verb not in ("list", "watch"):
            # Only list and watch exist across all namespaces.
            raise errors.NotFound.no_resource()
        if not res.namespaced and info.namespace:
            raise errors.NotFound.no_resource()
        if r.custom is not None:
            if verb == "create" and self.custom.terminating(res.group, res.version, res.plural):
                raise errors.MethodNotAllowed(
                    "create not allowed while custom resource definition is terminating"
                )
            if r.custom.deprecated:
                scope.warnings.append(
                    r.custom.deprecation_warning or f"{res.group_version} {res.kind} is deprecated"
                )
            if info.subresource == "scale":
                return await cr_scale.scale(scope, r.custom)
        elif (res.group, res.version, res.plural) == ("", "v1", "endpoints"):
            # 1.33 deprecates v1 Endpoints: every request on them carries this warning
            scope.warnings.append(ENDPOINTS_DEPRECATED)
        if info.subresource == "scale":
            return await scale.scale(scope)
        if (res.group, res.plural) == ("", "pods") and info.subresource in ("binding", "eviction"):
            body = await scope.body("Binding" if info.subresource == "binding" else "Eviction")
            if info.subresource == "binding":
                out = await pod_storage.bind(r.store, info.namespace, info.name, body)
            else:
                pdbs = self.rest[("policy", "v1", "poddisruptionbudgets")].store
                out = await pod_storage.evict(r.store, pdbs, info.namespace, info.name, body)
            return json_response(out, 201)
        if (res.group, res.plural) == ("", "pods") and info.subresource in (
            "exec",
            "attach",
            "portforward",
        ):
            # the streaming client (SPDY, WebSocket) loads with the first exec/attach/forward
            from pyk8s.apiserver.registry.core.pod import stream as pod_stream

            self._authorize_create(request, info, user)

            nodes = self.rest[("", "v1", "nodes")].store
            return await pod_stream.connect(
                request,
                r.store,
                nodes,
                info.namespace,
                info.name,
                info.subresource,
                self._kubelet_ssl(),
            )
        if (res.group, res.plural) == ("", "pods") and info.subresource == "log":
            nodes = self.rest[("", "v1", "nodes")].store
            return await pod_log.log(
                request, r.store, nodes, info.namespace, info.name, self._kubelet_ssl()
            )
        if info.subresource == "proxy" and (res.group, res.plural) in _PROXIED:
            return await self._proxy(request, info)
        if (res.group, res.plural, info.subresource) == ("", "serviceaccounts", "token"):
            if self.token_issuer is None:
                raise errors.NotFound.no_resource()
            body = await scope.body("TokenRequest")
            if not isinstance(body, dict):
                raise errors.BadRequest("the body of the request must be a JSON object")
            out = await tokenrequest.create(
                self.token_issuer, self._get_core, info.namespace, info.name, body
            )
            return json_response(out, 201)
        if info.subresource and info.subresource not in r.subresources:
            raise errors.MethodNotAllowed(
                f"the server does not support {info.subresource} on {res.plural} yet"
            )
        if info.subresource and verb == "get":
            return await get.get(scope)
        handler: Callable[[Scope], Awaitable[web.StreamResponse]] | None = {
            "get": get.get,
            "list": list_handler.list_,
            "create": create.create,
            "update": update.update,
            "patch": patch_handler.patch,
            "delete": delete.delete,
            "deletecollection": delete.delete_collection,
        }.get(verb)
        if verb == "watch":
            return await watch.watch(
                scope,
                min_request_timeout=self.config.min_request_timeout,
                bookmark_interval=self.config.bookmark_interval,
                stopping=self.stopping,
            )
        if handler is None:
            raise errors.MethodNotAllowed(
                "the server does not allow this method on the requested resource"
            )
        return await handler(scope)

    async def _proxy(
        self, request: web.Request, info: requestinfo.RequestInfo
    ) -> web.StreamResponse:
        """``nodes/proxy``, ``pods/proxy``, ``services/proxy``: relay to the location."""

        def store(plural: str) -> generic.Store:
            return self.rest[("", "v1", plural)].store

        path = proxy_handler.subpath(request, info.parts)
        if self._proxy_ssl_context is None:
            self._proxy_ssl_context = proxy_handler.backend_ssl()
        ctx = self._proxy_ssl_context
        if info.resource == "nodes":
            loc, ctx = await node_proxy.location(
                store("nodes"), info.name, path, self._kubelet_ssl(), ctx
            )
        elif info.resource == "pods":
            loc = await pod_proxy.location(store("pods"), info.namespace, info.name, path)
        else:
            loc = await service_proxy.location(
                store("services"), store("endpoints"), store("pods"), info.namespace,
                info.name, path,
            )  # fmt: skip
        return await proxy_handler.serve(request, loc, ctx)

    def _authorize_create(
        self, request: web.Request, info: requestinfo.RequestInfo, user: authn.User
    ) -> None:
        """``ensureAuthorizedForVerb`` of upstream's pod ``Connect`` (the
        ``AuthorizePodWebsocketUpgradeCreatePermission`` gate, on by default since 1.35):
        a WebSocket upgrade is a GET, authorized as ``get``, but opens the same session a
        SPDY POST (``create``) does, so ``create`` on the subresource is required as well."""
        if info.verb == "create":
            return
        attrs = authz.Attributes(
            user=user,
            verb="create",
            resource_request=True,
            api_group=info.api_group,
            api_version=info.api_version,
            namespace=info.namespace,
            resource=info.resource,
            subresource=info.subresource,
            name=info.name,
            path=request.path,
        )
        decision, reason = self.authz.authorize(attrs)
        if decision is not authz.Decision.ALLOW:
            raise errors.Forbidden.for_object(
                info.resource, info.api_group, info.name, reason, None
            )

    def _kubelet_ssl(self) -> ssl.SSLContext:
        """Client TLS to kubelets, with the admin certificate (made once, then reused)."""
        if self._kubelet_ssl_context is None:
            pki_dir = self.config.pki_dir
            self._kubelet_ssl_context = pod_log.client_ssl(
                pki_dir / "admin.crt", pki_dir / "admin.key"
            )
        return self._kubelet_ssl_context

    async def _component_statuses(
        self,
        request: web.Request,
        info: requestinfo.RequestInfo,
        res: scheme.Resource,
        user: authn.User,
    ) -> web.StreamResponse:
        """``componentstatuses`` (deprecated upstream, still served): the datastore's health."""
        healthy, message = "True", "ok"
        try:
            await self.backend.current_revision()
        except Exception as e:
            healthy, message = "False", f"storage unavailable: {e}"
        items: list[dict[str, Any]] = [
            {
                "metadata": {"name": "etcd-0"},
                "conditions": [
                    {"type": "Healthy", "status": healthy, "message": message}
                    if healthy == "True"
                    else {"type": "Healthy", "status": healthy, "error": message}
                ],
            }
        ]
        if info.name:
            match = [i for i in items if i["metadata"]["name"] == info.name]
            if not match:
                raise errors.NotFound.for_object(res.plural, "", info.name)
            body: dict[str, Any] = {"kind": res.kind, "apiVersion": "v1", **match[0]}
            is_list = False
        else:
            body = {"kind": res.list_kind, "apiVersion": "v1", "metadata": {}, "items": items}
            is_list = True
        scope = Scope(
            request, info, res, rest.REST(self.rest[("", "v1", "configmaps")].store), user,
            self.config.max_body_bytes,
        )  # fmt: skip
        return scope.render(body, is_list=is_list)


_PRETTY_AGENTS = ("curl", "Wget", "Mozilla/5.0")


def _maybe_pretty(request: web.Request, resp: web.StreamResponse) -> web.StreamResponse:
    """Indented JSON for ``?pretty=true`` and for curl, wget and browsers, as upstream's
    ``isPrettyPrint`` (``endpoints/handlers/rest.go``) decides."""
    pretty = request.query.get("pretty")
    if pretty is not None:
        wanted = pretty.lower() not in ("0", "false", "f", "no", "")
    else:
        wanted = request.headers.get("User-Agent", "").startswith(_PRETTY_AGENTS)
    if not wanted or not isinstance(resp, web.Response) or resp.prepared:
        return resp
    if not (resp.content_type or "").endswith("json") or not isinstance(resp.body, bytes):
        return resp
    try:
        doc = orjson.loads(resp.body)
    except orjson.JSONDecodeError:
        return resp
    resp.body = orjson.dumps(doc, option=orjson.OPT_INDENT_2) + b"\n"
    return resp


OIDC_CONFIG_PATH = "/.well-known/openid-configuration"
JWKS_PATH = "/openid/v1/jwks"
RBAC_GROUP = "rbac.authorization.k8s.io"
RBAC_RESOURCES = ("clusterroles", "clusterrolebindings", "roles", "rolebindings")


def build_authorizer(modes: list[str], resolver: rbac_authorizer.RuleResolver) -> authz.Authorizer:
    """The union ``--authorization-mode`` names, behind the ``system:masters`` shortcut
    (``pkg/kubeapiserver/authorizer/config.go`` ``New``)."""
    chain: list[authz.Authorizer] = [rbac_authorizer.PrivilegedGroups("system:masters")]
    for mode in modes:
        if mode == "AlwaysAllow":
            chain.append(authz.AlwaysAllow())
        elif mode == "AlwaysDeny":
            chain.append(authz.AlwaysDeny())
        elif mode == "Node":
            chain.append(node_authorizer.NodeAuthorizer())
        elif mode == "RBAC":
            chain.append(rbac_authorizer.RBACAuthorizer(resolver))
        else:
            raise ValueError(f"unknown authorization mode {mode!r}")
    return authz.Union(*chain)


def _forbidden(attrs: authz.Attributes, reason: str) -> errors.Forbidden:
    user = attrs.user.name
    if not attrs.resource_request:
        msg = f'forbidden: User "{user}" cannot {attrs.verb} path "{attrs.path}"'
        return errors.Forbidden(msg, details={})
    what = attrs.resource + (f"/{attrs.subresource}" if attrs.subresource else "")
    group = attrs.api_group
    scope = f' in the namespace "{attrs.namespace}"' if attrs.namespace else " at the cluster scope"
    msg = (
        f"{attrs.resource}{'.' + group if group else ''}"
        f"{' ' + repr(attrs.name).replace(chr(39), chr(34)) if attrs.name else ''} is forbidden: "
        f'User "{user}" cannot {attrs.verb} resource "{what}" in API group "{group}"{scope}'
    )
    if reason:
        msg += f": {reason}"
    details: dict[str, Any] = {"kind": attrs.resource}
    if attrs.name:
        details["name"] = attrs.name
    if group:
        details["group"] = group
    return errors.Forbidden(msg, details=details)


def tls_context(bundle: pki.Bundle) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    # The client's order of cipher suites, not OpenSSL's (AES-256-GCM first): Go's clients
    # (kubectl, client-go) put AES-128-GCM first, as Go's servers (kube-apiserver) do, and
    # a port-forward's bytes cost kubectl a sixth less CPU to decrypt (bench/streaming.py).
    ctx.options &= ~ssl.OP_CIPHER_SERVER_PREFERENCE
    ctx.load_cert_chain(bundle.serving.cert_path, bundle.serving.key_path)
    ctx.load_verify_locations(cafile=str(bundle.ca.cert_path))
    ctx.verify_mode = ssl.CERT_OPTIONAL
    ctx.set_alpn_protocols(["http/1.1"])
    clientca.advertise(ctx, [bundle.ca.cert_path])
    return ctx


@dataclass
class Prepared:
    bundle: pki.Bundle
    authenticator: authn.Authenticator
    schemas: Schemas | None
    token_issuer: tokenrequest.Issuer
    front_proxy: frontproxy.FrontProxy


async def prepare(config: APIServerConfig) -> Prepared:
    """PKI, authenticators and schemas (blocking work in a thread). The protobuf codec is
    loaded by the first protobuf body (:func:`load_codec`)."""

    def work() -> Prepared:
        bundle = pki.ensure(
            config.pki_dir,
            service_ip=config.kubernetes_service_ip,
            cluster_domain=config.cluster_domain,
            bind_address=config.bind_address,
            extra_sans=config.extra_sans,
        )
        token_file = (
            authn.TokenFile.load(config.token_auth_file) if config.token_auth_file else None
        )
        schemas = Schemas.load()
        if schemas is None:
            log.warning("kubernetes-validate schemas missing: strategic merge patch disabled")
        else:
            schemas.enums = openapi_enums.load() or {}
            schemas.set_zero_fields(openapi_enums.load_zero_fields())
            schemas.set_go_fields(openapi_enums.load_go_fields())
            if not schemas.enums:
                log.warning(
                    "OpenAPI enums not built (%s; `make protos`): the OpenAPI documents list "
                    "no enum values and kubectl explain prints no ENUM blocks",
                    openapi_enums.default_path(),
                )
        key = sa_jwt.ensure_keys(config.sa_key_path, config.sa_key_path.with_suffix(".pub"))
        issuer = tokenrequest.Issuer(
            key,
            issuer=config.issuer,
            audiences=tuple(config.api_audiences or [config.issuer]),
            max_expiration=config.service_account_max_token_expiration,
        )
        front_proxy = frontproxy.ensure(config.pki_dir)
        authenticator = authn.Authenticator(token_file=token_file)
        return Prepared(bundle, authenticator, schemas, issuer, front_proxy)

    return await asyncio.to_thread(work)


GC_GEN0_THRESHOLD = 20_000
"""Allocations between young collections (CPython's default is 700). Decoding a list of
3,000 Pods makes ~10^6 objects: at 700 the collector runs ~1,500 times for it."""


def _tune_gc() -> None:
    """Garbage collection tuned for serving: what start-up made (tables, schemas, policy) moves
    to the permanent generation (``gc.freeze``), so that collections stop re-scanning it, and
    young collections run less often. Cycles are still collected."""
    gc.collect()
    gc.freeze()
    gen0, gen1, gen2 = gc.get_threshold()
    if gen0 < GC_GEN0_THRESHOLD:
        gc.set_threshold(GC_GEN0_THRESHOLD, gen1, gen2)


def load_codec() -> protobuf.Codec | None:
    """The protobuf codec from the built descriptors (blocking: the protobuf runtime's import
    and the descriptor set, ~0.15 s), or None with a warning when they were not built."""
    from pyk8s.apiserver import protobuf

    codec = protobuf.Codec.load()
    if codec is None:
        log.warning("%s", protobuf.unavailable().message)
    return codec


async def run(
    config: APIServerConfig,
    backend: storage.Interface,
    ready: asyncio.Event | None = None,
    *,
    started: Callable[[APIServer, int], None] | None = None,
) -> None:
    """Serve until cancelled. ``ready`` is set once the port listens and the
    bootstrap objects exist; ``started`` gets the server and the bound port."""
    prepared = await prepare(config)
    bundle = prepared.bundle
    server = APIServer(
        config,
        backend,
        authenticator=prepared.authenticator,
        codec_loader=load_codec,
        schemas=prepared.schemas,
        token_issuer=prepared.token_issuer,
    )
    server.aggregator = aggregator_server.Aggregator(
        server.rest, lambda: server.table, prepared.front_proxy, resync=config.aggregator_resync
    )
    runner = web.AppRunner(server.app(), handle_signals=False, access_log=None,
                           shutdown_timeout=1.0)  # fmt: skip
    await runner.setup()
    ssl_context = await asyncio.to_thread(tls_context, bundle)
    site = web.TCPSite(
        runner,
        host=config.bind_address or None,
        port=config.https_port,
        ssl_context=ssl_context,
        reuse_address=True,
    )
    refresher: asyncio.Task[None] | None = None
    aggregation: asyncio.Task[None] | None = None
    custom: asyncio.Task[None] | None = None
    try:
        await site.start()
        port = config.https_port
        sockets = getattr(site._server, "sockets", None) or []
        if sockets:
            port = sockets[0].getsockname()[1]
        url = config.url.rsplit(":", 1)[0] + f":{port}"
        await asyncio.to_thread(kubeconfig.write, config.kubeconfig_path, url, bundle)
        await bootstrap.ensure_defaults(server.rest, config)
        await rbac_reconcile.ensure_policy(server.rest)
        await server.rbac_cache.reload()
        refresher = asyncio.create_task(server.rbac_cache.run(), name="rbac policy cache")
        aggregation = asyncio.create_task(_aggregate(server, bundle, prepared.front_proxy))
        custom = asyncio.create_task(server.custom.run(), name="custom resource definitions")
        await server.custom.wait_synced()
        server.ready = True
        log.info(
            "API server listening on https://%s:%d; admin kubeconfig: %s",
            config.bind_address,
            port,
            config.kubeconfig_path,
        )
        _tune_gc()
        if started is not None:
            started(server, port)
        if ready is not None:
            ready.set()
        await asyncio.Event().wait()
    finally:
        server.stopping.set()
        for task in (custom, refresher, aggregation):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        with contextlib.suppress(Exception):
            await runner.cleanup()


async def _aggregate(server: APIServer, bundle: pki.Bundle, front: frontproxy.FrontProxy) -> None:
    """Publish the front-proxy trust, then keep the APIServices' availability current."""
    assert server.aggregator is not None
    client_ca, request_header_ca = await asyncio.to_thread(
        lambda: (bundle.ca.cert_pem().decode(), front.ca.cert_pem().decode())
    )
    while True:
        try:
            await server.aggregator.bootstrap(client_ca, request_header_ca)
            break
        except Exception:
            log.exception("aggregator: bootstrap failed; retrying")
            await asyncio.sleep(1.0)
    await server.aggregator.run()
