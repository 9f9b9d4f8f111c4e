"""A client for the distribution API v2 (the registry HTTP API), on aiohttp.

Auth as docker does it: a request answered ``401`` with ``WWW-Authenticate: Bearer
realm=...,service=...,scope=...`` gets a token from the realm (with basic credentials when
there are some) and is retried with it; ``Basic`` challenges get basic credentials. Tokens
are cached per host and scope. Redirects (blob downloads go to object storage) are followed
by hand so credentials never go to another host. HTTPS first; plain HTTP where
``registries.yaml``, ``--insecure`` or a loopback address allows it. Every manifest and blob
is checked against its digest. Mirrors docker/distribution ``registry/client/repository.go``,
``registry/client/auth/session.go`` and containerd ``remotes/docker/resolver.go``,
``fetcher.go``, ``pusher.go``.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import re
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urljoin, urlsplit

import aiohttp
import orjson

import pyk8s
from pyk8s.images import manifest, registries

USER_AGENT = f"pyk8s/{pyk8s.__version__}"
CHUNK = 1 << 20


class RegistryError(RuntimeError):
    """The registry said no (its error code and message when it sent them)."""

    def __init__(self, message: str, status: int = 0, code: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.code = code


class NotFoundError(RegistryError):
    pass


class AuthError(RegistryError):
    pass


@dataclass(frozen=True)
class Fetched:
    data: bytes
    media_type: str
    digest: str


_CHALLENGE = re.compile(r'(\w+)="([^"]*)"|(\w+)=([^,\s]+)')


def parse_challenge(header: str) -> tuple[str, dict[str, str]]:
    scheme, _, rest = header.strip().partition(" ")
    params = {}
    for m in _CHALLENGE.finditer(rest):
        if m.group(1):
            params[m.group(1).lower()] = m.group(2)
        else:
            params[m.group(3).lower()] = m.group(4)
    return scheme.lower(), params


class Client:
    """One session to any number of registries; use as ``async with Client(...) as c``."""

    def __init__(
        self,
        config: registries.Registries | None = None,
        *,
        credentials: dict[str, registries.Auth] | None = None,
    ) -> None:
        self.config = config or registries.Registries()
        self.credentials = credentials or {}
        self._session: aiohttp.ClientSession | None = None
        self._auth: dict[tuple[str, str], str] = {}  # (host, scope) -> Authorization header
        self._scheme: dict[str, str] = {}  # host -> "http" once HTTPS failed and HTTP is allowed
        self._ssl: dict[str, ssl.SSLContext | bool] = {}

    async def __aenter__(self) -> Client:
        self._session = aiohttp.ClientSession(
            headers={"User-Agent": USER_AGENT},
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=30, sock_read=300),
            auto_decompress=False,
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._session is not None:
            await self._session.close()

    @property
    def session(self) -> aiohttp.ClientSession:
        assert self._session is not None, "use Client as an async context manager"
        return self._session

    # -- plumbing ------------------------------------------------------------------------

    async def _ssl_for(self, host: str) -> ssl.SSLContext | bool:
        if host not in self._ssl:
            tls = self.config.config_for(host).tls

            def make() -> ssl.SSLContext | bool:
                if tls.insecure_skip_verify:
                    return False
                ctx = ssl.create_default_context(cafile=tls.ca_file or None)
                if tls.cert_file:
                    ctx.load_cert_chain(tls.cert_file, tls.key_file or None)
                return ctx

            self._ssl[host] = await asyncio.to_thread(make)
        return self._ssl[host]

    def _creds(self, host: str) -> registries.Auth | None:
        return self.credentials.get(host) or self.config.config_for(host).auth

    def _base(self, ep: registries.Endpoint) -> str:
        scheme, host = ep.url.split("://", 1)
        if scheme == "https" and self._scheme.get(host) == "http":
            scheme = "http"
        return f"{scheme}://{host}"

    async def request(
        self,
        method: str,
        ep: registries.Endpoint,
        path: str,
        *,
        scope: str,
        headers: dict[str, str] | None = None,
        data: Any = None,
        params: dict[str, str] | None = None,
        ok: tuple[int, ...] = (200,),
        follow: bool = True,
    ) -> aiohttp.ClientResponse:
        """Send one request to ``ep`` (``path`` under ``/v2/``), authenticating as challenged.

        Returns the response (caller reads and releases it); raises RegistryError otherwise.
        """
        host = ep.host
        for attempt in range(3):
            url = f"{self._base(ep)}/v2/{path}"
            if params:
                url += ("&" if "?" in url else "?") + urlencode(params)
            h = dict(headers or {})
            if auth := self._auth.get((host, scope)):
                h["Authorization"] = auth
            try:
                resp = await self._send(method, url, h, data, host, follow)
            except (
                aiohttp.ClientConnectorError,
                aiohttp.ClientSSLError,
                aiohttp.ServerDisconnectedError,
            ) as e:
                if (
                    url.startswith("https://")
                    and self.config.plain_http_allowed(host)
                    and self._scheme.get(host) != "http"
                ):
                    self._scheme[host] = "http"
                    continue
                raise RegistryError(f"cannot reach {host}: {e}") from None
            if resp.status == 401 and attempt < 2 and (data is None or isinstance(data, bytes)):
                challenge = resp.headers.get("WWW-Authenticate", "")
                resp.release()
                await self._authenticate(host, scope, challenge)
                continue
            if resp.status in ok:
                return resp
            raise await self._error(resp, method, url)
        raise AuthError(f"{host}: still unauthorized after authenticating", 401, "UNAUTHORIZED")

    async def _send(
        self, method: str, url: str, headers: dict[str, str], data: Any, host: str, follow: bool
    ) -> aiohttp.ClientResponse:
        for _ in range(6):
            target_host = urlsplit(url).netloc
            ssl_ctx = await self._ssl_for(target_host) if url.startswith("https://") else False
            resp = await self.session.request(
                method, url, headers=headers, data=data, allow_redirects=False, ssl=ssl_ctx
            )
            if not follow or resp.status not in (301, 302, 303, 307, 308):
                return resp
            location = resp.headers.get("Location", "")
            resp.release()
            new = urljoin(url, location)
            if urlsplit(new).netloc != host:
                headers = {k: v for k, v in headers.items() if k.lower() != "authorization"}
            url = new
        raise RegistryError(f"too many redirects from {url}")

    async def _authenticate(self, host: str, scope: str, challenge: str) -> None:
        scheme, params = parse_challenge(challenge)
        creds = self._creds(host)
        if scheme == "basic":
            if creds is None or not creds.username:
                raise AuthError(
                    f"{host} wants a username and password (use --creds or registries.yaml)",
                    401,
                    "UNAUTHORIZED",
                )
            raw = f"{creds.username}:{creds.password}".encode()
            self._auth[(host, scope)] = "Basic " + base64.b64encode(raw).decode()
            return
        if scheme != "bearer" or "realm" not in params:
            raise AuthError(f"{host}: unsupported authentication challenge {challenge!r}", 401)
        query = {"service": params.get("service", "")}
        if scope:
            query["scope"] = scope
        headers = {}
        if creds is not None and creds.username:
            raw = f"{creds.username}:{creds.password}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(raw).decode()
        url = params["realm"] + ("&" if "?" in params["realm"] else "?") + urlencode(query)
        realm_host = urlsplit(url).netloc
        ssl_ctx = await self._ssl_for(realm_host) if url.startswith("https://") else False
        async with self.session.get(url, headers=headers, ssl=ssl_ctx) as resp:
            body = await resp.read()
            if resp.status != 200:
                raise AuthError(
                    f"token server {realm_host} refused ({resp.status}): {body[:200]!r}",
                    resp.status,
                    "UNAUTHORIZED",
                )
        try:
            doc = orjson.loads(body)
            token = doc.get("token") or doc.get("access_token")
        except orjson.JSONDecodeError:
            token = None
        if not token:
            raise AuthError(f"token server {realm_host} sent no token")
        self._auth[(host, scope)] = f"Bearer {token}"

    async def _error(self, resp: aiohttp.ClientResponse, method: str, url: str) -> RegistryError:
        body = await resp.read()
        resp.release()
        code, message = "", ""
        try:
            errors = orjson.loads(body).get("errors") or []
            if errors:
                code = str(errors[0].get("code", ""))
                message = str(errors[0].get("message", ""))
        except (orjson.JSONDecodeError, AttributeError):
            message = body[:200].decode(errors="replace")
        text = f"{method} {url}: {resp.status} {code} {message}".strip()
        if resp.status == 404:
            return NotFoundError(text, 404, code)
        if resp.status in (401, 403):
            return AuthError(text, resp.status, code)
        return RegistryError(text, resp.status, code)

    # -- the API -------------------------------------------------------------------------

    @staticmethod
    def scope(ep: registries.Endpoint, push: bool = False) -> str:
        return f"repository:{ep.path}:{'pull,push' if push else 'pull'}"

    async def get_manifest(self, ep: registries.Endpoint, ref: str) -> Fetched:
        headers = {"Accept": ", ".join(manifest.ACCEPT)}
        resp = await self.request(
            "GET", ep, f"{ep.path}/manifests/{ref}", scope=self.scope(ep), headers=headers
        )
        async with resp:
            data = await resp.read()
            media_type = resp.headers.get("Content-Type", "").split(";")[0].strip()
            announced = resp.headers.get("Docker-Content-Digest", "")
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        if ref.startswith("sha256:") and ref != digest:
            raise RegistryError(f"manifest {ref} from {ep.host} hashes to {digest}")
        if announced and announced.startswith("sha256:") and announced != digest:
            raise RegistryError(
                f"manifest from {ep.host} is {digest}, the registry said {announced}"
            )
        if media_type not in manifest.MANIFEST_TYPES | manifest.INDEX_TYPES:
            media_type = manifest.media_type_of(data)
        return Fetched(data, media_type, digest)

    async def fetch_blob(
        self,
        ep: registries.Endpoint,
        digest: str,
        sink: Callable[[bytes], Awaitable[None]],
    ) -> None:
        """Stream blob ``digest`` into ``sink`` (the caller verifies what it got)."""
        resp = await self.request("GET", ep, f"{ep.path}/blobs/{digest}", scope=self.scope(ep))
        async with resp:
            async for chunk in resp.content.iter_chunked(256 * 1024):
                await sink(chunk)

    async def blob_exists(self, ep: registries.Endpoint, digest: str) -> bool:
        try:
            resp = await self.request(
                "HEAD", ep, f"{ep.path}/blobs/{digest}", scope=self.scope(ep, True)
            )
        except NotFoundError:
            return False
        resp.release()
        return True

    async def upload_blob(
        self,
        ep: registries.Endpoint,
        digest: str,
        size: int,
        path: Path,
        *,
        mount_from: str = "",
        on_chunk: Callable[[int], None] | None = None,
    ) -> bool:
        """Monolithic upload: POST for a session (or a cross-repo mount), then PUT the bytes.
        Returns True when the registry mounted the blob from ``mount_from`` instead."""
        params = {"mount": digest, "from": mount_from} if mount_from else None
        resp = await self.request(
            "POST",
            ep,
            f"{ep.path}/blobs/uploads/",
            scope=self.scope(ep, True),
            params=params,
            ok=(201, 202),
        )
        async with resp:
            if resp.status == 201:
                return True
            location = resp.headers.get("Location", "")
        if not location:
            raise RegistryError(f"{ep.host} started an upload without a Location")
        url = urljoin(f"{self._base(ep)}/v2/{ep.path}/blobs/uploads/", location)
        url += ("&" if "?" in url else "?") + urlencode({"digest": digest})

        async def body() -> AsyncIterator[bytes]:
            f = await asyncio.to_thread(path.open, "rb")
            try:
                while chunk := await asyncio.to_thread(f.read, CHUNK):
                    if on_chunk:
                        on_chunk(len(chunk))
                    yield chunk
            finally:
                await asyncio.to_thread(f.close)

        headers = {"Content-Type": "application/octet-stream", "Content-Length": str(size)}
        if auth := self._auth.get((ep.host, self.scope(ep, True))):
            headers["Authorization"] = auth
        resp = await self._send("PUT", url, headers, body(), ep.host, True)
        async with resp:
            if resp.status != 201:
                raise await self._error(resp, "PUT", url.split("?")[0])
            got = resp.headers.get("Docker-Content-Digest", digest)
        if got != digest:
            raise RegistryError(f"{ep.host} stored blob {digest} as {got}")
        return False

    async def put_manifest(
        self, ep: registries.Endpoint, ref: str, data: bytes, media_type: str
    ) -> str:
        resp = await self.request(
            "PUT",
            ep,
            f"{ep.path}/manifests/{ref}",
            scope=self.scope(ep, True),
            headers={"Content-Type": media_type},
            data=data,
            ok=(201, 200),
        )
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        async with resp:
            got = resp.headers.get("Docker-Content-Digest", digest)
        if got != digest:
            raise RegistryError(f"{ep.host} stored manifest {digest} as {got}")
        return digest

    async def ping(self, ep: registries.Endpoint) -> None:
        resp = await self.request("GET", ep, "", scope="")
        resp.release()

    async def tags(self, ep: registries.Endpoint) -> list[str]:
        resp = await self.request("GET", ep, f"{ep.path}/tags/list", scope=self.scope(ep))
        async with resp:
            doc = orjson.loads(await resp.read())
        return list(doc.get("tags") or [])
