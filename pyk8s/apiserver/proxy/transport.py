"""What the API server's proxy does to a response on its way back: links made to go
through the proxy again.

Mirrors ``k8s.io/apimachinery/pkg/util/proxy/transport.go``: a redirect's ``Location`` and
the URL-valued attributes of the tags of an HTML page (``atomsToAttrs``) that point at the
proxied host by an absolute path get the proxy's own path in front
(``/api/v1/namespaces/default/services/web/proxy``), so a browser behind ``kubectl proxy``
follows them back through the API server; gzip and deflate bodies are unpacked and packed
again; CORS headers of the backend are dropped (``upgradeaware.go``'s
``corsRemovingTransport``). Only the start tags are rewritten: everything else of the page
is passed on byte for byte.
"""

from __future__ import annotations

import posixpath
import urllib.parse
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from html.parser import HTMLParser

URL_ATTRS: dict[str, frozenset[str]] = {
    tag: frozenset(attrs.split())
    for tag, attrs in {
        "a": "href", "applet": "codebase", "area": "href", "audio": "src", "base": "href",
        "blockquote": "cite", "body": "background", "button": "formaction", "command": "icon",
        "del": "cite", "embed": "src", "form": "action", "frame": "longdesc src",
        "head": "profile", "html": "manifest", "iframe": "longdesc src",
        "img": "longdesc src usemap", "input": "src usemap formaction", "ins": "cite",
        "link": "href", "object": "classid codebase data usemap", "q": "cite", "script": "src",
        "source": "src", "video": "poster src",
    }.items()
}  # fmt: skip

CORS_HEADERS = (
    "Access-Control-Allow-Credentials",
    "Access-Control-Allow-Headers",
    "Access-Control-Allow-Methods",
    "Access-Control-Allow-Origin",
)


def join(*parts: str) -> str:
    """Go's ``path.Join``: the non-empty parts joined by ``/`` and cleaned ("" if none)."""
    joined = "/".join(p for p in parts if p)
    if not joined:
        return ""
    cleaned = posixpath.normpath(joined)
    return "/" + cleaned.lstrip("/") if cleaned.startswith("//") else cleaned


@dataclass(frozen=True)
class Rewriter:
    """``path_prepend``: the path in front of the proxied path
    (``/api/v1/nodes/n1/proxy``); ``backend_host``: the host:port proxied to;
    ``request_host``: the Host the client asked the API server for. ``scheme`` and ``host``
    are what rewritten URLs get; upstream leaves both empty (a Go server request's URL has
    neither), so rewritten links are paths on whatever host the client used."""

    path_prepend: str
    backend_host: str
    request_host: str
    scheme: str = ""
    host: str = ""

    def url(self, target: str) -> str:
        """One URL of the backend's, through the proxy when it points back at the backend."""
        try:
            u = urllib.parse.urlsplit(target)
        except ValueError:
            return target
        other_host = u.netloc != "" and u.netloc not in (self.backend_host, self.request_host)
        if other_host or not u.path.startswith("/"):
            return target
        scheme, netloc = u.scheme, u.netloc
        if not (u.netloc == self.request_host and not self.scheme and not self.host):
            scheme, netloc = self.scheme, self.host
        path = u.path
        if not path.startswith(self.path_prepend):
            path = join(self.path_prepend, u.path)
            if u.path.endswith("/"):
                path += "/"
        return urllib.parse.urlunsplit((scheme, netloc, path, u.query, u.fragment))

    def html(self, page: str) -> str:
        """The page with the URL attributes of its start tags rewritten."""
        return _rewrite_html(page, self.url)

    def body(self, data: bytes, encoding: str) -> bytes | None:
        """An HTML body, rewritten; None when its Content-Encoding is not one we unpack."""
        encoding = encoding.strip().lower()
        if encoding == "gzip":
            text = zlib.decompress(data, 16 + zlib.MAX_WBITS)
        elif encoding == "deflate":
            text = _inflate(data)
        elif encoding in ("", "identity"):
            text = data
        else:
            return None
        out = self.html(text.decode("utf-8", "surrogateescape")).encode("utf-8", "surrogateescape")
        if encoding == "gzip":
            packer = zlib.compressobj(wbits=16 + zlib.MAX_WBITS)
            return packer.compress(out) + packer.flush()
        if encoding == "deflate":
            packer = zlib.compressobj(level=9)
            return packer.compress(out) + packer.flush()
        return out


def _inflate(data: bytes) -> bytes:
    """A deflate body: zlib-wrapped as the standard says, or raw as some servers send it."""
    try:
        return zlib.decompress(data)
    except zlib.error:
        return zlib.decompress(data, -zlib.MAX_WBITS)


class _StartTags(HTMLParser):
    """Finds the start tags that carry a URL attribute, with their place in the page."""

    def __init__(self, line_starts: list[int]) -> None:
        super().__init__(convert_charrefs=False)
        self.line_starts = line_starts
        self.found: list[tuple[int, str, str, list[tuple[str, str | None]], bool]] = []

    def _tag(self, tag: str, attrs: list[tuple[str, str | None]], closed: bool) -> None:
        wanted = URL_ATTRS.get(tag)
        if wanted is None or not any(k in wanted for k, _ in attrs):
            return
        line, col = self.getpos()
        raw = self.get_starttag_text() or ""
        self.found.append((self.line_starts[line - 1] + col, raw, tag, attrs, closed))

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._tag(tag, attrs, False)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._tag(tag, attrs, True)


def _render(
    tag: str, attrs: list[tuple[str, str | None]], closed: bool, rewrite: Callable[[str], str]
) -> str:
    wanted = URL_ATTRS[tag]
    parts = [tag]
    for key, value in attrs:
        if value is None:
            parts.append(key)
            continue
        if key in wanted:
            value = rewrite(value)  # noqa: PLW2901
        escaped = value.replace("&", "&amp;").replace('"', "&quot;")
        parts.append(f'{key}="{escaped}"')
    return "<" + " ".join(parts) + ("/>" if closed else ">")


def _rewrite_html(page: str, rewrite: Callable[[str], str]) -> str:
    line_starts = [0]
    for i, ch in enumerate(page):
        if ch == "\n":
            line_starts.append(i + 1)
    parser = _StartTags(line_starts)
    parser.feed(page)
    parser.close()
    out: list[str] = []
    cursor = 0
    for offset, raw, tag, attrs, closed in parser.found:
        if page[offset : offset + len(raw)] != raw:
            continue  # the parser's position disagrees with the page: leave the tag alone
        out.append(page[cursor:offset])
        out.append(_render(tag, attrs, closed, rewrite))
        cursor = offset + len(raw)
    out.append(page[cursor:])
    return "".join(out)
