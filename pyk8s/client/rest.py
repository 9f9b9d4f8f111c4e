"""The asyncio REST client: CRUD, patch and watch on any resource, errors as classes.

Mirrors k8s.io/client-go/rest (``request.go``: URL layout, ``Status`` bodies into
errors, ``Retry-After`` handling; ``config.go``/``transport``: TLS and bearer
tokens) and ``dynamic/simple.go`` (one client for every resource, named by
group, version and plural). Watches are client-go's ``watch.StreamWatcher``:
the response body is a stream of JSON ``{"type": ..., "object": ...}`` frames,
one per line; ``ERROR`` frames carry a ``Status`` and are raised as errors.

Objects are plain JSON dicts. Errors are the classes of ``pyk8s.api.errors``
(``NotFound``, ``Conflict``, ``Gone``...), built from the ``Status`` the server
sent, so callers catch them by type.
"""

from __future__ import annotations

import asyncio
import base64
import builtins
import contextlib
import enum
import os
import ssl
import tempfile
from collections.abc import AsyncGenerator, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol

import aiohttp
import orjson

import pyk8s
from pyk8s.api import errors, scheme
from pyk8s.client import clock as clock_
from pyk8s.client import kubeconfig

TOKEN_FILE_REFRESH = 60.0
"""Seconds a token read from a file is trusted before reading it again (client-go: 1 minute)."""


@dataclass(frozen=True, slots=True)
class ResourceRef:
    """Which resource a call is about: ``ResourceRef("apps", "v1", "deployments")``."""

    group: str
    version: str
    plural: str
    namespaced: bool = True
    kind: str = ""

    @classmethod
    def from_resource(cls, resource: scheme.Resource) -> ResourceRef:
        """The reference to a row of the built-in resource table."""
        return cls(
            resource.group, resource.version, resource.plural, resource.namespaced, resource.kind
        )

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def qualified(self) -> str:
        """``deployments.apps``, as error messages and RBAC name it."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    def path(
        self, namespace: str | None = None, name: str | None = None, subresource: str | None = None
    ) -> str:
        base = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        parts = [base]
        if self.namespaced and namespace:
            parts += ["namespaces", namespace]
        parts.append(self.plural)
        if name:
            parts.append(name)
            if subresource:
                parts.append(subresource)
        elif subresource:
            raise ValueError("a subresource needs an object name")
        return "/".join(parts)


def for_kind(api_version: str, kind: str) -> ResourceRef:
    """The built-in resource serving ``kind`` (``for_kind("apps/v1", "Deployment")``).

    For kinds outside the built-in table (custom resources) ask the server:
    :meth:`Client.resource_for`.
    """
    group, _, version = api_version.rpartition("/")
    resource = scheme.DEFAULT.for_kind(group, version, kind)
    if resource is None:
        raise LookupError(f"no built-in resource serves {kind} in {api_version}")
    return ResourceRef.from_resource(resource)


class PatchType(enum.StrEnum):
    JSON = "application/json-patch+json"
    MERGE = "application/merge-patch+json"
    STRATEGIC = "application/strategic-merge-patch+json"
    APPLY = "application/apply-patch+yaml"


class WatchEvent(NamedTuple):
    type: str
    """``ADDED``, ``MODIFIED``, ``DELETED`` or ``BOOKMARK`` (``ERROR`` is raised instead)."""
    object: dict[str, Any]


class DecodeError(ValueError):
    """The server sent something that is not the JSON it should have."""


class Interface(Protocol):
    """What components need from a client: :class:`Client`, or ``fake.Client`` in tests."""

    async def get(
        self,
        ref: ResourceRef,
        name: str,
        namespace: str | None = None,
        *,
        subresource: str | None = None,
        resource_version: str | None = None,
    ) -> dict[str, Any]: ...

    async def list(
        self,
        ref: ResourceRef,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
        limit: int | None = None,
        continue_: str | None = None,
        resource_version: str | None = None,
        resource_version_match: str | None = None,
        timeout: float | None = None,
    ) -> dict[str, Any]: ...

    async def create(
        self,
        ref: ResourceRef,
        body: Mapping[str, Any],
        namespace: str | None = None,
        *,
        name: str | None = None,
        subresource: str | None = None,
        dry_run: bool = False,
        field_manager: str | None = None,
        field_validation: str | None = None,
    ) -> dict[str, Any]: ...

    async def update(
        self,
        ref: ResourceRef,
        body: Mapping[str, Any],
        namespace: str | None = None,
        *,
        subresource: str | None = None,
        dry_run: bool = False,
        field_manager: str | None = None,
        field_validation: str | None = None,
    ) -> dict[str, Any]: ...

    async def patch(
        self,
        ref: ResourceRef,
        name: str,
        patch: Any,
        namespace: str | None = None,
        *,
        patch_type: PatchType = PatchType.MERGE,
        subresource: str | None = None,
        dry_run: bool = False,
        field_manager: str | None = None,
        force: bool | None = None,
    ) -> dict[str, Any]: ...

    async def delete(
        self,
        ref: ResourceRef,
        name: str,
        namespace: str | None = None,
        *,
        propagation_policy: str | None = None,
        grace_period_seconds: int | None = None,
        preconditions: Mapping[str, str] | None = None,
        dry_run: bool = False,
    ) -> dict[str, Any]: ...

    async def delete_collection(
        self,
        ref: ResourceRef,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
        propagation_policy: str | None = None,
    ) -> dict[str, Any]: ...

    def watch(
        self,
        ref: ResourceRef,
        namespace: str | None = None,
        *,
        resource_version: str | None = None,
        allow_bookmarks: bool = True,
        label_selector: str | None = None,
        field_selector: str | None = None,
        timeout_seconds: int | None = None,
        send_initial_events: bool | None = None,
    ) -> AsyncGenerator[WatchEvent, None]: ...


_GENERIC_REASON = {
    400: ("BadRequest", "the server rejected our request for an unknown reason"),
    401: ("Unauthorized", "the server has asked for the client to provide credentials"),
    403: ("Forbidden", "the server does not allow access to the requested resource"),
    404: ("NotFound", "the server could not find the requested resource"),
    405: ("MethodNotAllowed", "the server does not allow this method on the requested resource"),
    409: ("Conflict", "the server reported a conflict"),
    410: ("Expired", "the server has asked for the client to start over"),
    422: ("Invalid", "the server rejected our request due to an error in our request"),
    429: (
        "TooManyRequests",
        "the server has received too many requests and has asked us to try again later",
    ),
    500: ("InternalError", "an error on the server has prevented the request from succeeding"),
    503: ("ServiceUnavailable", "the server is currently unable to handle the request"),
    504: ("Timeout", "the server was unable to return a response in the time allotted"),
}


def error_from_response(status: int, raw: bytes) -> errors.ApiError:
    """The error a failed response describes: its ``Status`` body, or one made from the code."""
    body: Any = None
    with contextlib.suppress(orjson.JSONDecodeError):
        body = orjson.loads(raw) if raw else None
    if isinstance(body, dict) and body.get("kind") == "Status":
        if not body.get("code"):
            body = {**body, "code": status}
        return errors.ApiError.from_status(body)
    reason, default_message = _GENERIC_REASON.get(status, ("", f"unexpected HTTP status {status}"))
    text = raw.decode("utf-8", "replace").strip()
    message = f"{default_message} ({text})" if text else default_message
    return errors.ApiError.from_status({"code": status, "reason": reason, "message": message})


def _params(**values: Any) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in values.items():
        if value is None or value is False:
            continue
        out[key] = ("true" if value else "false") if isinstance(value, bool) else str(value)
    return out


def build_ssl_context(config: kubeconfig.Config) -> ssl.SSLContext | None:
    """The TLS context for ``config`` (blocking: it may read the system trust store)."""
    if not config.server.startswith("https://"):
        return None
    if config.ca_data is not None:
        ctx = ssl.create_default_context(cadata=config.ca_data.decode("ascii", "replace"))
    else:
        ctx = ssl.create_default_context()
    if config.insecure_skip_tls_verify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if config.cert_data is not None and config.key_data is not None:
        # ssl can only load a certificate chain from files.
        with tempfile.TemporaryDirectory(prefix="pyk8s-client-") as tmp:
            cert = os.path.join(tmp, "client.crt")
            key = os.path.join(tmp, "client.key")
            fd = os.open(key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(config.key_data)
            with open(cert, "wb") as f:
                f.write(config.cert_data)
            ctx.load_cert_chain(cert, key)
    return ctx


class Client:
    """One connection pool to one API server, as one user.

    Use as ``async with rest.Client(config) as client:``, or call :meth:`close`.
    """

    def __init__(
        self,
        config: kubeconfig.Config,
        *,
        timeout: float = 30.0,
        max_retries: int = 10,
        clock: clock_.Clock | None = None,
        user_agent: str = f"pyk8s/{pyk8s.__version__}",
    ) -> None:
        self.config = config
        self.timeout = timeout
        self.max_retries = max_retries
        self.clock: clock_.Clock = clock or clock_.RealClock()
        self.user_agent = user_agent
        self._session: aiohttp.ClientSession | None = None
        self._open_lock = asyncio.Lock()
        self._file_token: str | None = None
        self._file_token_at = 0.0
        self._discovery: dict[str, builtins.list[ResourceRef]] = {}

    @classmethod
    async def from_kubeconfig(
        cls, path: str | os.PathLike[str] | None = None, context: str | None = None, **kw: Any
    ) -> Client:
        return cls(await kubeconfig.load(str(path) if path else None, context), **kw)

    async def __aenter__(self) -> Client:
        await self._open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _open(self) -> aiohttp.ClientSession:
        async with self._open_lock:
            if self._session is None:
                ctx = await asyncio.to_thread(build_ssl_context, self.config)
                connector = aiohttp.TCPConnector(ssl=ctx if ctx is not None else False)
                self._session = aiohttp.ClientSession(
                    connector=connector,
                    headers={"User-Agent": self.user_agent, "Accept": "application/json"},
                    json_serialize=lambda o: orjson.dumps(o).decode(),
                )
            return self._session

    async def _auth_headers(self) -> dict[str, str]:
        token = self.config.token
        if token is None and self.config.token_file:
            now = self.clock.now()
            if self._file_token is None or now - self._file_token_at >= TOKEN_FILE_REFRESH:
                text = await asyncio.to_thread(_read_text, self.config.token_file)
                self._file_token = text.strip()
                self._file_token_at = now
            token = self._file_token
        if token:
            return {"Authorization": f"Bearer {token}"}
        if self.config.username is not None:
            pair = f"{self.config.username}:{self.config.password or ''}".encode()
            return {"Authorization": "Basic " + base64.b64encode(pair).decode("ascii")}
        return {}

    # -- the one request path ---------------------------------------------------

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: Any = None,
        content_type: str = "application/json",
        timeout: float | None = None,
    ) -> Any:
        """Send one request; return the decoded JSON body, raise the ``Status`` as an error."""
        session = await self._open()
        data = None if body is None else body if isinstance(body, bytes) else orjson.dumps(body)
        attempt = 0
        while True:
            headers = await self._auth_headers()
            if data is not None:
                headers["Content-Type"] = content_type
            async with session.request(
                method,
                self.config.server + path,
                params=params,
                data=data,
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=timeout or self.timeout),
                server_hostname=self.config.tls_server_name,
            ) as resp:
                raw = await resp.read()
                status = resp.status
                retry_after = resp.headers.get("Retry-After")
            if status < 400:
                if not raw:
                    return None
                try:
                    return orjson.loads(raw)
                except orjson.JSONDecodeError as e:
                    raise DecodeError(f"{method} {path}: response is not JSON: {e}") from e
            delay = _retry_delay(status, retry_after)
            if delay is None or attempt >= self.max_retries:
                raise error_from_response(status, raw)
            attempt += 1
            await self.clock.sleep(delay)

    # -- verbs ------------------------------------------------------------------

    async def get(
        self,
        ref: ResourceRef,
        name: str,
        namespace: str | None = None,
        *,
        subresource: str | None = None,
        resource_version: str | None = None,
    ) -> dict[str, Any]:
        path = ref.path(self._ns(ref, namespace), name, subresource)
        result: dict[str, Any] = await self.request(
            "GET", path, params=_params(resourceVersion=resource_version)
        )
        return result

    async def list(
        self,
        ref: ResourceRef,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
        limit: int | None = None,
        continue_: str | None = None,
        resource_version: str | None = None,
        resource_version_match: str | None = None,
        timeout: float | None = None,
    ) -> dict[str, Any]:
        """One page of a list; ``namespace=None`` lists every namespace."""
        params = _params(
            labelSelector=label_selector,
            fieldSelector=field_selector,
            limit=limit,
            resourceVersion=resource_version,
            resourceVersionMatch=resource_version_match,
            **{"continue": continue_},
        )
        result: dict[str, Any] = await self.request(
            "GET", ref.path(namespace), params=params, timeout=timeout
        )
        return result

    async def create(
        self,
        ref: ResourceRef,
        body: Mapping[str, Any],
        namespace: str | None = None,
        *,
        name: str | None = None,
        subresource: str | None = None,
        dry_run: bool = False,
        field_manager: str | None = None,
        field_validation: str | None = None,
    ) -> dict[str, Any]:
        """POST ``body``; ``name``+``subresource`` post to a subresource (``binding``)."""
        ns = self._ns(ref, namespace or _meta(body).get("namespace"))
        params = _params(
            dryRun="All" if dry_run else None,
            fieldManager=field_manager,
            fieldValidation=field_validation,
        )
        result: dict[str, Any] = await self.request(
            "POST", ref.path(ns, name, subresource), params=params, body=body
        )
        return result

    async def update(
        self,
        ref: ResourceRef,
        body: Mapping[str, Any],
        namespace: str | None = None,
        *,
        subresource: str | None = None,
        dry_run: bool = False,
        field_manager: str | None = None,
        field_validation: str | None = None,
    ) -> dict[str, Any]:
        """PUT ``body`` (its ``metadata.resourceVersion`` makes it conditional)."""
        meta = _meta(body)
        name = meta.get("name")
        if not name:
            raise ValueError("update needs metadata.name in the body")
        ns = self._ns(ref, namespace or meta.get("namespace"))
        params = _params(
            dryRun="All" if dry_run else None,
            fieldManager=field_manager,
            fieldValidation=field_validation,
        )
        result: dict[str, Any] = await self.request(
            "PUT", ref.path(ns, name, subresource), params=params, body=body
        )
        return result

    async def patch(
        self,
        ref: ResourceRef,
        name: str,
        patch: Any,
        namespace: str | None = None,
        *,
        patch_type: PatchType = PatchType.MERGE,
        subresource: str | None = None,
        dry_run: bool = False,
        field_manager: str | None = None,
        force: bool | None = None,
    ) -> dict[str, Any]:
        """PATCH with one of the four patch types; ``APPLY`` needs ``field_manager``."""
        if patch_type is PatchType.APPLY and not field_manager:
            raise ValueError("server-side apply needs a field_manager")
        params = _params(dryRun="All" if dry_run else None, fieldManager=field_manager, force=force)
        result: dict[str, Any] = await self.request(
            "PATCH",
            ref.path(self._ns(ref, namespace), name, subresource),
            params=params,
            body=patch,
            content_type=patch_type.value,
        )
        return result

    async def delete(
        self,
        ref: ResourceRef,
        name: str,
        namespace: str | None = None,
        *,
        propagation_policy: str | None = None,
        grace_period_seconds: int | None = None,
        preconditions: Mapping[str, str] | None = None,
        dry_run: bool = False,
    ) -> dict[str, Any]:
        """DELETE; returns the object (when it lingers on finalizers) or a ``Status``."""
        result: dict[str, Any] = await self.request(
            "DELETE",
            ref.path(self._ns(ref, namespace), name),
            body=_delete_options(propagation_policy, grace_period_seconds, preconditions, dry_run),
        )
        return result

    async def delete_collection(
        self,
        ref: ResourceRef,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
        propagation_policy: str | None = None,
    ) -> dict[str, Any]:
        result: dict[str, Any] = await self.request(
            "DELETE",
            ref.path(namespace),
            params=_params(labelSelector=label_selector, fieldSelector=field_selector),
            body=_delete_options(propagation_policy, None, None, False),
        )
        return result

    async def watch(
        self,
        ref: ResourceRef,
        namespace: str | None = None,
        *,
        resource_version: str | None = None,
        allow_bookmarks: bool = True,
        label_selector: str | None = None,
        field_selector: str | None = None,
        timeout_seconds: int | None = None,
        send_initial_events: bool | None = None,
    ) -> AsyncGenerator[WatchEvent, None]:
        """Events after ``resource_version`` until the server ends the stream.

        ``ERROR`` frames are raised (``Gone`` when the version is too old). With
        ``timeout_seconds`` the server closes the watch after that long; a
        connection silent for longer than that (plus a grace) raises ``TimeoutError``.
        Use with ``contextlib.aclosing`` to release the connection early.
        """
        session = await self._open()
        params = _params(
            watch=True,
            resourceVersion=resource_version,
            allowWatchBookmarks=allow_bookmarks,
            labelSelector=label_selector,
            fieldSelector=field_selector,
            timeoutSeconds=timeout_seconds,
            sendInitialEvents=send_initial_events,
            resourceVersionMatch="NotOlderThan" if send_initial_events else None,
        )
        read_timeout = None if timeout_seconds is None else timeout_seconds + self.timeout
        async with session.get(
            self.config.server + ref.path(namespace),
            params=params,
            headers=await self._auth_headers(),
            timeout=aiohttp.ClientTimeout(
                total=None, sock_connect=self.timeout, sock_read=read_timeout
            ),
            server_hostname=self.config.tls_server_name,
        ) as resp:
            if resp.status >= 400:
                raise error_from_response(resp.status, await resp.read())
            buffer = bytearray()
            async for chunk in resp.content.iter_any():
                buffer += chunk
                start = 0
                while (end := buffer.find(b"\n", start)) >= 0:
                    line = bytes(buffer[start:end])
                    start = end + 1
                    if line.strip():
                        yield _decode_event(line)
                del buffer[:start]
            if bytes(buffer).strip():
                yield _decode_event(bytes(buffer))

    # -- discovery ----------------------------------------------------------------

    async def api_resources(self, api_version: str) -> builtins.list[ResourceRef]:
        """The resources a group version serves (subresources left out), cached."""
        cached = self._discovery.get(api_version)
        if cached is not None:
            return cached
        group, _, version = api_version.rpartition("/")
        path = f"/apis/{api_version}" if group else f"/api/{version}"
        body = await self.request("GET", path)
        refs = [
            ResourceRef(group, version, r["name"], bool(r.get("namespaced")), r.get("kind", ""))
            for r in body.get("resources") or []
            if "/" not in r["name"]
        ]
        self._discovery[api_version] = refs
        return refs

    async def resource_for(self, api_version: str, kind: str) -> ResourceRef:
        """The resource serving ``kind`` in ``api_version`` (``NotFound`` if none)."""
        for ref in await self.api_resources(api_version):
            if ref.kind == kind:
                return ref
        raise errors.NotFound(f'no resource for kind "{kind}" in {api_version}')

    def _ns(self, ref: ResourceRef, namespace: str | None) -> str | None:
        if not ref.namespaced:
            return None
        return namespace or self.config.namespace


def _read_text(path: str) -> str:
    with open(path) as f:
        return f.read()


def _meta(body: Mapping[str, Any]) -> Mapping[str, Any]:
    meta: Mapping[str, Any] = body.get("metadata") or {}
    return meta


def _delete_options(
    propagation_policy: str | None,
    grace_period_seconds: int | None,
    preconditions: Mapping[str, str] | None,
    dry_run: bool,
) -> dict[str, Any]:
    opts: dict[str, Any] = {"kind": "DeleteOptions", "apiVersion": "v1"}
    if propagation_policy:
        opts["propagationPolicy"] = propagation_policy
    if grace_period_seconds is not None:
        opts["gracePeriodSeconds"] = grace_period_seconds
    if preconditions:
        opts["preconditions"] = dict(preconditions)
    if dry_run:
        opts["dryRun"] = ["All"]
    return opts


def _retry_delay(status: int, retry_after: str | None) -> float | None:
    """client-go retries 429 and 5xx answers that carry ``Retry-After`` (seconds)."""
    if retry_after is None or not (status == 429 or status >= 500):
        return None
    try:
        return min(max(float(int(retry_after)), 0.0), 60.0)
    except ValueError:
        return 1.0


def _decode_event(line: bytes) -> WatchEvent:
    try:
        frame = orjson.loads(line)
    except orjson.JSONDecodeError as e:
        raise DecodeError(f"watch stream frame is not JSON: {e}") from e
    if not isinstance(frame, dict) or not isinstance(frame.get("object"), dict):
        raise DecodeError(f"watch stream frame has no object: {line[:200]!r}")
    kind = frame.get("type")
    if kind == "ERROR":
        raise errors.ApiError.from_status(frame["object"])
    if kind not in ("ADDED", "MODIFIED", "DELETED", "BOOKMARK"):
        raise DecodeError(f"got invalid watch event type: {kind!r}")
    return WatchEvent(kind, frame["object"])


def _implements_interface(client: Client) -> Interface:
    return client  # mypy checks here that Client satisfies Interface
