"""Proxying a request to the extension server behind an APIService.

Mirrors ``kube-aggregator/pkg/apiserver/handler_proxy.go``: the request, already
authenticated and authorized here, goes to the Service's endpoint over HTTPS with the
front-proxy client certificate, and the user travels in the request headers
(``transport.NewAuthProxyRoundTripper``: ``X-Remote-User``, one ``X-Remote-Group`` per
group, ``X-Remote-Extra-<key>``); the caller's own credentials are not forwarded. The
backend's TLS is checked against ``spec.caBundle`` for the name ``<service>.<namespace>.svc``
unless ``spec.insecureSkipTLSVerify`` (``remote.BuildTransportConfig``). Failures answer as
upstream's ``http.Error`` does: ``503 service unavailable`` in plain text.
"""

from __future__ import annotations

import asyncio
import base64
import ssl
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import aiohttp
from aiohttp import web
from multidict import CIMultiDict

from pyk8s.apiserver import authn
from pyk8s.apiserver.aggregator import frontproxy
from pyk8s.apiserver.aggregator.apiservice import ServiceRef

Obj = dict[str, Any]

# Not forwarded: hop-by-hop headers, and the caller's credentials (the user goes as headers).
_DROP_REQUEST = frozenset(
    h.lower()
    for h in (
        "Authorization", "Connection", "Keep-Alive", "Proxy-Authorization", "TE", "Trailer",
        "Transfer-Encoding", "Upgrade", "Host", "Content-Length",
    )
)  # fmt: skip
_DROP_RESPONSE = frozenset(
    h.lower()
    for h in ("Connection", "Keep-Alive", "Transfer-Encoding", "Content-Length", "Trailer")
)


def error(message: str, code: int = 503) -> web.Response:
    """``http.Error``: the text and a newline, as text/plain, not sniffed."""
    return web.Response(
        status=code,
        text=message + "\n",
        content_type="text/plain",
        charset="utf-8",
        headers={"X-Content-Type-Options": "nosniff"},
    )


def user_headers(user: authn.User) -> list[tuple[str, str]]:
    """``transport.SetAuthProxyHeaders``: who the request is for."""
    out = [(frontproxy.USERNAME_HEADERS[0], user.name)]
    if user.uid:
        out.append((frontproxy.UID_HEADERS[0], user.uid))
    out += [(frontproxy.GROUP_HEADERS[0], g) for g in user.groups]
    for key, values in user.extra.items():
        name = frontproxy.EXTRA_HEADERS_PREFIX[0] + quote(key, safe="")
        out += [(name, v) for v in values]
    return out


class Transport:
    """One client session for every extension server; TLS settings per APIService."""

    def __init__(self, front_proxy: frontproxy.FrontProxy) -> None:
        self.front_proxy = front_proxy
        self._session: aiohttp.ClientSession | None = None
        self._contexts: dict[tuple[bool, str], ssl.SSLContext] = {}

    async def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                auto_decompress=False,
                connector=aiohttp.TCPConnector(limit=0),
                skip_auto_headers=("User-Agent", "Accept-Encoding"),
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def ssl_context(self, spec: Mapping[str, Any]) -> ssl.SSLContext:
        insecure = bool(spec.get("insecureSkipTLSVerify"))
        ca = "" if insecure else str(spec.get("caBundle") or "")
        key = (insecure, ca)
        ctx = self._contexts.get(key)
        if ctx is None:
            ctx = await asyncio.to_thread(self._make_context, insecure, ca)
            self._contexts[key] = ctx
        return ctx

    def _make_context(self, insecure: bool, ca_bundle: str) -> ssl.SSLContext:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        if insecure:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        elif ca_bundle:
            ctx.load_verify_locations(cadata=base64.b64decode(ca_bundle).decode())
        else:
            ctx.load_default_certs()
        ctx.load_cert_chain(self.front_proxy.client.cert_path, self.front_proxy.client.key_path)
        return ctx


async def forward(
    transport: Transport,
    request: web.Request,
    spec: Mapping[str, Any],
    ref: ServiceRef,
    location: tuple[str, int],
    user: authn.User,
) -> web.StreamResponse:
    """Send ``request`` to ``location`` as ``user``; copy the answer back."""
    host, port = location
    hostport = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    url = f"https://{hostport}{request.rel_url.raw_path_qs}"
    headers: CIMultiDict[str] = CIMultiDict(
        (k, v)
        for k, v in request.headers.items()
        if k.lower() not in _DROP_REQUEST
        and not k.lower().startswith(("x-remote-", "impersonate-"))
    )
    for k, v in user_headers(user):
        headers.add(k, v)
    session = await transport.session()
    ctx = await transport.ssl_context(spec)
    body = await request.read() if request.can_read_body else None
    try:
        upstream = await session.request(
            request.method,
            url,
            headers=headers,
            data=body,
            ssl=ctx,
            server_hostname=f"{ref.name}.{ref.namespace}.svc",
            allow_redirects=False,
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=10),
        )
    except (aiohttp.ClientError, OSError, TimeoutError) as e:
        return error(f"error trying to reach service: {e}")
    try:
        resp = web.StreamResponse(status=upstream.status, reason=upstream.reason)
        for k, v in upstream.headers.items():
            if k.lower() not in _DROP_RESPONSE:
                resp.headers.add(k, v)
        if upstream.content_length is not None:
            data = await upstream.read()
            out = web.Response(status=upstream.status, body=data, headers=resp.headers)
            return out
        await resp.prepare(request)
        async for chunk in upstream.content.iter_any():
            await resp.write(chunk)
        await resp.write_eof()
        return resp
    finally:
        upstream.release()
