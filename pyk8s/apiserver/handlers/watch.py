"""Watch (``handlers/watch.go`` ``serveWatch``): a chunked stream of JSON events.

One ``{"type": ..., "object": ...}`` per line. ``timeoutSeconds`` ends the
stream (default: a random time in [min-request-timeout, 2x)); bookmarks go out
every ``bookmark_interval`` and 2 s before the deadline when
``allowWatchBookmarks=true``, carrying how far the stream has been read (events
the watcher did not match included), and after the
initial events with ``sendInitialEvents=true`` (annotation
``k8s.io/initial-events-end``); a compacted start revision gives an ERROR event
carrying a 410 Expired Status. In Table form every event carries a one-row
Table and only the first one has column definitions.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Callable
from typing import Any

import orjson
from aiohttp import web

from pyk8s.api import errors
from pyk8s.apiserver import negotiation
from pyk8s.apiserver.handlers.scope import Scope
from pyk8s.apiserver.printers import table
from pyk8s.apiserver.registry.generic.store import WatchEvent

Obj = dict[str, Any]
INITIAL_EVENTS_END = "k8s.io/initial-events-end"
_DONE = object()
MAX_BATCH = 256
"""Events written at once at most (all that are queued, up to this)."""


def _truthy(v: str | None) -> bool:
    return v is not None and v.lower() in ("1", "true")


async def watch(
    scope: Scope,
    *,
    min_request_timeout: float,
    bookmark_interval: float,
    stopping: asyncio.Event,
    on_event: Callable[[], None] | None = None,
) -> web.StreamResponse:
    q = scope.query
    opts = scope.list_options(watch=True)
    if opts.continue_token:
        raise errors.BadRequest("a watch may not use continue")
    target = scope.target()
    timeout: float
    if q.get("timeoutSeconds"):
        try:
            timeout = max(float(q["timeoutSeconds"]), 0.0)
        except ValueError:
            raise errors.BadRequest(f"invalid timeoutSeconds: {q['timeoutSeconds']!r}") from None
    else:
        timeout = min_request_timeout * (1 + random.random())
    bookmarks = _truthy(q.get("allowWatchBookmarks"))
    send_initial: bool | None = None
    if "sendInitialEvents" in q:
        send_initial = _truthy(q.get("sendInitialEvents"))
    if send_initial and opts.resource_version not in ("", "0"):
        # NotOlderThan N: the current state (which is not older) then changes.
        opts.resource_version = ""

    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    queue: asyncio.Queue[Any] = asyncio.Queue(maxsize=1024)

    async def produce() -> None:
        try:
            async for ev in scope.store.watch(scope.namespace, opts, send_initial=send_initial):
                await queue.put(ev)
        except errors.ApiError as e:
            await queue.put(WatchEvent("ERROR", e.status()))
        finally:
            await queue.put(_DONE)

    resp = web.StreamResponse(status=200)
    resp.content_type = "application/json"
    resp.enable_chunked_encoding()
    scope.add_warnings(resp)
    await resp.prepare(scope.request)
    producer = asyncio.create_task(produce())
    first_table = True
    last_rv = 0
    progress: Callable[[], int] | None = None

    def bookmark_after(now: float) -> float:
        # As the watch cache's cacheWatcher.nextBookmarkTime: every bookmark_interval, and
        # one 2 s before the deadline, when the client is about to reconnect with it.
        at = now + bookmark_interval
        pretimeout = deadline - 2.0
        return pretimeout if now < pretimeout < at else at

    next_bookmark = bookmark_after(loop.time())
    try:
        done = False
        while not done and not stopping.is_set():
            now = loop.time()
            if now >= deadline:
                break
            if queue.empty():
                wait = min(deadline - now, 2.0)
                if bookmarks:
                    wait = min(wait, max(next_bookmark - now, 0.0))
                try:
                    first = await asyncio.wait_for(queue.get(), timeout=wait)
                except TimeoutError:
                    transport = scope.request.transport
                    if transport is None or transport.is_closing():
                        break
                    if bookmarks and loop.time() >= next_bookmark and last_rv:
                        if progress is not None and queue.empty():
                            # events of other objects (filtered out, other namespaces)
                            # have moved the stream on: the bookmark says how far
                            last_rv = max(last_rv, progress())
                        await _send(resp, "BOOKMARK", _bookmark(scope, last_rv, initial_end=False))
                        next_bookmark = bookmark_after(loop.time())
                    continue
            else:
                first = queue.get_nowait()
            # Everything already queued goes out in one write (one TLS record, one send).
            batch = [first]
            while len(batch) < MAX_BATCH and not queue.empty():
                batch.append(queue.get_nowait())
            out: list[bytes] = []
            for ev in batch:
                if ev is _DONE:
                    done = True
                    break
                assert isinstance(ev, WatchEvent)
                if ev.type == "BOOKMARK_INITIAL":
                    last_rv = max(last_rv, ev.revision)
                    progress = ev.progress
                    if send_initial and bookmarks:
                        out.append(
                            _line("BOOKMARK", _bookmark(scope, ev.revision, initial_end=True))
                        )
                    continue
                if ev.type == "ERROR":
                    out.append(_line("ERROR", ev.object))
                    done = True
                    break
                last_rv = max(last_rv, ev.revision)
                obj = ev.object
                if target.output is negotiation.Output.TABLE:
                    obj = table.to_table(
                        scope.printer(),
                        [obj],
                        meta_version=target.version,
                        include_object=q.get("includeObject", "Metadata"),
                        include_headers=first_table,
                        list_metadata={"resourceVersion": str(ev.revision)},
                        api_version=scope.resource.api_version,
                        kind=scope.resource.kind,
                    )
                    first_table = False
                elif target.output is negotiation.Output.PARTIAL:
                    obj = table.partial_metadata(obj, target.version)
                else:
                    out.append(_shared_line(ev.type, obj))
                    if on_event is not None:
                        on_event()
                    continue
                out.append(_line(ev.type, obj))
                if on_event is not None:
                    on_event()
            if out:
                await resp.write(b"".join(out))
    except (ConnectionResetError, asyncio.CancelledError):
        pass
    finally:
        producer.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await producer
    with contextlib.suppress(ConnectionResetError, RuntimeError):
        await resp.write_eof()
    return resp


def _bookmark(scope: Scope, revision: int, *, initial_end: bool) -> Obj:
    md: Obj = {"resourceVersion": str(revision), "creationTimestamp": None}
    if initial_end:
        md["annotations"] = {INITIAL_EVENTS_END: "true"}
    return {"kind": scope.resource.kind, "apiVersion": scope.resource.api_version, "metadata": md}


def _line(type_: str, obj: Obj) -> bytes:
    return orjson.dumps({"type": type_, "object": obj}) + b"\n"


SHARED_LINES_MAX = 4096
_SHARED_LINES: dict[tuple[int, str], tuple[Obj, bytes]] = {}
"""(id of an event's object, event type) -> (the object, its JSON line): the store hands
every watcher of a resource the same object for an event, so it is encoded once."""


def _shared_line(type_: str, obj: Obj) -> bytes:
    key = (id(obj), type_)
    hit = _SHARED_LINES.get(key)
    if hit is not None and hit[0] is obj:
        return hit[1]
    line = _line(type_, obj)
    if len(_SHARED_LINES) >= SHARED_LINES_MAX:
        _SHARED_LINES.pop(next(iter(_SHARED_LINES)))  # the oldest
    _SHARED_LINES[key] = (obj, line)
    return line


async def _send(resp: web.StreamResponse, type_: str, obj: Obj) -> None:
    await resp.write(_line(type_, obj))
