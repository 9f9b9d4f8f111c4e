"""``/healthz``, ``/livez``, ``/readyz`` with named checks and ``?verbose``.

Mirrors k8s.io/apiserver ``pkg/server/healthz/healthz.go``: ``ok`` when every
check passes, else 500; ``?verbose`` lists ``[+]name ok`` / ``[-]name failed``;
``/<endpoint>/<check>`` runs one check; ``?exclude=`` skips checks.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from aiohttp import web

Check = Callable[[], Awaitable[None]]
"""Raises to report failure; the message is not shown (upstream hides reasons)."""


@dataclass(frozen=True)
class NamedCheck:
    name: str
    check: Check


async def ping() -> None:
    return None


async def serve(request: web.Request, endpoint: str, checks: Sequence[NamedCheck]) -> web.Response:
    sub = request.path[len(endpoint) + 1 :].strip("/")
    if sub:
        for c in checks:
            if c.name == sub:
                try:
                    await c.check()
                except Exception:
                    return web.Response(
                        status=500,
                        text="internal server error: check failed\n",
                        content_type="text/plain",
                    )
                return web.Response(text="ok", content_type="text/plain")
        return web.Response(status=404, text="404 page not found\n", content_type="text/plain")
    excluded = set(request.query.getall("exclude", []))
    lines: list[str] = []
    failed = False
    for c in checks:
        if c.name in excluded:
            lines.append(f"[+]{c.name} excluded: ok")
            continue
        try:
            await c.check()
        except Exception:
            failed = True
            lines.append(f"[-]{c.name} failed: reason withheld")
        else:
            lines.append(f"[+]{c.name} ok")
    verbose = "verbose" in request.query
    name = endpoint.strip("/")
    if failed:
        lines.append(f"{name} check failed")
        return web.Response(status=500, text="\n".join(lines) + "\n", content_type="text/plain")
    if verbose:
        lines.append(f"{name} check passed")
        return web.Response(text="\n".join(lines) + "\n", content_type="text/plain")
    return web.Response(text="ok", content_type="text/plain")
