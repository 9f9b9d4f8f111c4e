"""The API server as an HTTP reverse proxy: the ``proxy`` subresources of nodes, pods and
services.

Mirrors ``k8s.io/apimachinery/pkg/util/proxy/upgradeaware.go`` (``UpgradeAwareHandler``:
the location's scheme defaults to ``http``; the client's query string goes along; a
trailing ``/`` of the request is kept; a proxied path that comes out empty is answered with
a 301 to the same URL with a ``/`` added, the "hack for issue 4958"; the body streams both
ways, flushed as it comes) and ``transport.go`` (``X-Forwarded-Uri``, a backend that cannot
be reached answered with 503 ``Error trying to reach service: '...'``; redirects and HTML
links rewritten, see :mod:`pyk8s.apiserver.proxy.transport`), with the request-side rules of
``httputil.ReverseProxy`` (hop-by-hop headers dropped both ways, ``X-Forwarded-For``
appended). The client's credentials never reach the backend: the API server's
authentication filter removes ``Authorization`` (``filters/authentication.go``) and the
impersonation filter the ``Impersonate-*`` headers.

Connection upgrades (WebSocket to a pod through the proxy) are not relayed yet: such a
request is refused with 400.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass

import aiohttp
import yarl
from aiohttp import web
from multidict import CIMultiDict

from pyk8s.api import errors
from pyk8s.apiserver.proxy import transport

HOP_BY_HOP = frozenset(
    h.lower()
    for h in ("Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate",
              "Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade")
)  # fmt: skip
_NOT_FORWARDED = frozenset(("authorization", "host", "content-length"))
_CONNECT_TIMEOUT = 30.0
_MAX_HTML = 32 * 1024 * 1024


@dataclass(frozen=True)
class Location:
    """Where a proxied request goes: scheme, host, port, and the path proxied to."""

    scheme: str
    host: str
    port: int | None
    path: str

    @property
    def hostport(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port is None else f"{host}:{self.port}"


def split_scheme_name_port(id_: str) -> tuple[str, str, str] | None:
    """``name``, ``name:port`` or ``scheme:name:port`` (``utilnet.SplitSchemeNamePort``);
    None when it is none of them or the scheme is not http(s)."""
    parts = id_.split(":")
    if len(parts) == 1:
        scheme, name, port = "", parts[0], ""
    elif len(parts) == 2:
        scheme, name, port = "", parts[0], parts[1]
    elif len(parts) == 3:
        scheme, name, port = parts
    else:
        return None
    if not name or scheme not in ("", "http", "https"):
        return None
    return scheme, name, port


def subpath(request: web.Request, parts: tuple[str, ...]) -> str:
    """The ``path`` connect option: what follows ``<resource>/<name>/proxy`` in the URL, with
    a leading ``/``, and a trailing one when the request had it (``getRequestOptions``)."""
    p = "/".join(parts[3:])
    if p and not p.startswith("/"):
        p = "/" + p
    if request.path.endswith("/") and not p.endswith("/"):
        p += "/"
    return p


def _request_headers(
    request: web.Request, loc: Location, forwarded_uri: str
) -> list[tuple[str, str]]:
    connection_named = {
        t.strip().lower() for t in request.headers.get("Connection", "").split(",") if t.strip()
    }
    out: list[tuple[str, str]] = []
    for k, v in request.headers.items():
        low = k.lower()
        if low in HOP_BY_HOP or low in connection_named or low in _NOT_FORWARDED:
            continue
        if low.startswith("impersonate-") or low == "x-forwarded-for":
            continue
        out.append((k, v))
    peer = request.remote or ""
    previous = request.headers.getall("X-Forwarded-For", [])
    if peer:
        out.append(("X-Forwarded-For", ", ".join([*previous, peer])))
    elif previous:
        out.append(("X-Forwarded-For", ", ".join(previous)))
    out.append(("X-Forwarded-Uri", forwarded_uri))
    if request.host:
        out.append(("Host", request.host))
    return out


def _response_headers(upstream: aiohttp.ClientResponse) -> list[tuple[str, str]]:
    connection_named = {
        t.strip().lower() for t in upstream.headers.get("Connection", "").split(",") if t.strip()
    }
    cors = {h.lower() for h in transport.CORS_HEADERS}
    return [
        (k, v)
        for k, v in upstream.headers.items()
        if (low := k.lower()) not in HOP_BY_HOP
        and low not in connection_named
        and low not in cors
        and low != "content-length"
    ]


def _unreachable(err: BaseException) -> web.Response:
    return web.Response(
        status=503,
        text=f"Error trying to reach service: '{err}'",
        headers={"Content-Type": "text/plain; charset=utf-8", "X-Content-Type-Options": "nosniff"},
    )


async def serve(
    request: web.Request, loc: Location, ssl_context: ssl.SSLContext | None
) -> web.StreamResponse:
    """Proxy ``request`` to ``loc`` (``ssl_context`` for an https backend) and relay the answer."""
    if "upgrade" in request.headers.get("Connection", "").lower():
        raise errors.BadRequest("upgrading a proxied connection is not supported by this server")
    path = loc.path
    if request.path.endswith("/") and not path.endswith("/"):
        path += "/"
    if not path:
        query = f"?{request.query_string}" if request.query_string else ""
        return web.Response(status=301, headers={"Location": request.path + "/" + query})
    scheme = loc.scheme or "http"
    suffix = loc.path
    if request.path.endswith("/") and not suffix.endswith("/"):
        suffix += "/"
    prepend = (
        request.path[: -len(suffix)] if suffix and request.path.endswith(suffix) else (request.path)
    )
    forwarded_uri = transport.join(prepend, path) + ("/" if path.endswith("/") else "")
    url = yarl.URL.build(
        scheme=scheme, host=loc.host, port=loc.port, path=path,
        query_string=request.query_string,
    )  # fmt: skip
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=_CONNECT_TIMEOUT)
    session = aiohttp.ClientSession(timeout=timeout, auto_decompress=False)
    try:
        try:
            upstream = await session.request(
                request.method,
                url,
                headers=_request_headers(request, loc, forwarded_uri),
                data=request.content if request.body_exists else None,
                ssl=(ssl_context or False) if scheme == "https" else True,
                allow_redirects=False,
                skip_auto_headers=("User-Agent", "Accept-Encoding", "Accept", "Content-Type"),
            )
        except (aiohttp.ClientError, OSError, TimeoutError) as e:
            return _unreachable(e)
        async with upstream:
            rewriter = transport.Rewriter(
                path_prepend=prepend, backend_host=loc.hostport, request_host=request.host
            )
            headers = _response_headers(upstream)
            redirect = upstream.headers.get("Location")
            if redirect:
                headers = [(k, v) for k, v in headers if k.lower() != "location"]
                headers.append(("Location", rewriter.url(redirect)))
            ctype = upstream.headers.get("Content-Type", "").split(";", 1)[0].strip().lower()
            if not redirect and ctype == "text/html" and request.method != "HEAD":
                body = await upstream.content.read(_MAX_HTML + 1)
                encoding = upstream.headers.get("Content-Encoding", "")
                rewritten = rewriter.body(body, encoding) if len(body) <= _MAX_HTML else None
                if rewritten is None and len(body) > _MAX_HTML:
                    rewritten = body + await upstream.content.read()
                return web.Response(
                    status=upstream.status, body=rewritten or body, headers=CIMultiDict(headers)
                )
            resp = web.StreamResponse(status=upstream.status, reason=upstream.reason)
            for k, v in headers:
                resp.headers.add(k, v)
            if upstream.content_length is not None:
                resp.content_length = upstream.content_length
            await resp.prepare(request)
            async for chunk in upstream.content.iter_any():
                await resp.write(chunk)
            await resp.write_eof()
            return resp
    finally:
        await session.close()


def backend_ssl() -> ssl.SSLContext:
    """TLS to an https pod or Service port: upstream's proxy transport verifies nothing."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx
