"""Recording events (``events.k8s.io/v1``), with repeats folded into a series.

Mirrors k8s.io/client-go/tools/events (``event_recorder.go``: building the Event;
``event_broadcaster.go``: ``recordToSink``, ``getKey``, ``finishSeries``,
``refreshExistingEventSeries``, ``recordEvent``). What a reader of
``kubectl get events`` sees:

- The first occurrence is created as an Event named ``<object>.<hex ns timestamp>``
  in the object's namespace (``default`` for cluster-scoped objects).
- A second occurrence of the same (type, action, reason, reporting controller and
  instance, regarding, related) patches that Event with ``series: {count: 2,
  lastObservedTime}``. Later ones only count locally; the count is written every
  30 minutes, and when the series has been quiet for 6 minutes the final count is
  written and the series forgotten (the next occurrence starts a new Event).

Recording never blocks the caller: :meth:`EventRecorder.event` queues (dropping,
with a log line, past 1000 queued) and :meth:`EventRecorder.run` writes.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
import random
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp

from pyk8s.api import errors
from pyk8s.client import clock as clock_
from pyk8s.client import rest

log = logging.getLogger(__name__)

EVENTS = rest.ResourceRef("events.k8s.io", "v1", "events", True, "Event")
NORMAL = "Normal"
WARNING = "Warning"
MAX_QUEUED = 1000
MAX_TRIES = 12
RETRY_SLEEP = 10.0
FINISH_TIME = 6 * 60.0
REFRESH_TIME = 30 * 60.0
NOTE_MAX = 1024

_FINISH = "finish"
_REFRESH = "refresh"


def object_reference(obj: Mapping[str, Any]) -> dict[str, Any]:
    """The ``ObjectReference`` of an object (``reference.GetReference``)."""
    meta = obj.get("metadata") or {}
    ref: dict[str, Any] = {
        "apiVersion": obj.get("apiVersion", ""),
        "kind": obj.get("kind", ""),
        "name": meta.get("name", ""),
    }
    for src, dst in (
        ("namespace", "namespace"),
        ("uid", "uid"),
        ("resourceVersion", "resourceVersion"),
    ):
        if meta.get(src):
            ref[dst] = meta[src]
    return ref


@dataclass
class _Cached:
    event: dict[str, Any]
    last_seen: float


class EventRecorder:
    def __init__(
        self,
        client: rest.Interface,
        reporting_controller: str,
        reporting_instance: str | None = None,
        *,
        clock: clock_.Clock | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.client = client
        self.reporting_controller = reporting_controller
        self.reporting_instance = (
            reporting_instance or f"{reporting_controller}-{socket.gethostname()}"
        )
        self.clock: clock_.Clock = clock or clock_.RealClock()
        self.rng = rng or random.Random()
        self._queue: asyncio.Queue[dict[str, Any] | str] = asyncio.Queue(MAX_QUEUED)
        self._cache: dict[tuple[str, ...], _Cached] = {}
        self._running = False
        self._timers: dict[str, clock_.Timer] = {}
        self.dropped = 0

    def event(
        self,
        regarding: Mapping[str, Any],
        type_: str,
        reason: str,
        action: str,
        note: str,
        related: Mapping[str, Any] | None = None,
    ) -> None:
        """Record that ``action`` happened to ``regarding`` because of ``reason``."""
        if type_ not in (NORMAL, WARNING):
            raise ValueError(f"event type must be Normal or Warning, not {type_!r}")
        ref = object_reference(regarding)
        now = self.clock.wall()
        event: dict[str, Any] = {
            "apiVersion": EVENTS.api_version,
            "kind": "Event",
            "metadata": {
                "name": f"{ref['name']}.{int(now.timestamp() * 1e9):x}",
                "namespace": ref.get("namespace") or "default",
            },
            "eventTime": clock_.micro_time(now),
            "reportingController": self.reporting_controller,
            "reportingInstance": self.reporting_instance,
            "action": action,
            "reason": reason,
            "regarding": ref,
            "note": note[:NOTE_MAX],
            "type": type_,
        }
        if related is not None:
            event["related"] = object_reference(related)
        try:
            self._queue.put_nowait(event)
        except asyncio.QueueFull:
            self.dropped += 1
            log.warning("event queue full; dropping %s event on %s", reason, ref["name"])

    async def run(self) -> None:
        """Write queued events until cancelled (and finish/refresh series on schedule)."""
        self._running = True
        self._timers = {
            _FINISH: self.clock.call_later(FINISH_TIME, lambda: self._tick(_FINISH, FINISH_TIME)),
            _REFRESH: self.clock.call_later(
                REFRESH_TIME, lambda: self._tick(_REFRESH, REFRESH_TIME)
            ),
        }
        try:
            while True:
                item = await self._queue.get()
                try:
                    await self._process(item)
                finally:
                    self._queue.task_done()
        finally:
            self._running = False
            for timer in self._timers.values():
                timer.cancel()

    async def flush(self) -> None:
        """Wait until everything queued so far is written (or process it, if not running)."""
        if self._running:
            await self._queue.join()
            return
        while not self._queue.empty():
            item = self._queue.get_nowait()
            await self._process(item)
            self._queue.task_done()

    def _tick(self, what: str, period: float) -> None:
        with contextlib.suppress(asyncio.QueueFull):
            self._queue.put_nowait(what)
        self._timers[what] = self.clock.call_later(period, lambda: self._tick(what, period))

    async def _process(self, item: dict[str, Any] | str) -> None:
        if item == _FINISH:
            await self._finish_series()
        elif item == _REFRESH:
            await self._refresh_series()
        elif isinstance(item, dict):
            await self._record(item)

    async def _record(self, event: dict[str, Any]) -> None:
        key = _key(event)
        cached = self._cache.get(key)
        now = self.clock.now()
        if cached is None:
            self._cache[key] = _Cached(event, now)
            await self._attempt(copy.deepcopy(event))
            return
        cached.last_seen = now
        series = cached.event.get("series")
        if series is not None:
            series["count"] += 1
            series["lastObservedTime"] = clock_.micro_time(self.clock.wall())
            return
        cached.event["series"] = {
            "count": 2,
            "lastObservedTime": clock_.micro_time(self.clock.wall()),
        }
        await self._attempt(copy.deepcopy(cached.event))

    async def _finish_series(self) -> None:
        horizon = self.clock.now() - FINISH_TIME
        for key, cached in list(self._cache.items()):
            if cached.last_seen >= horizon:
                continue
            if "series" in cached.event and await self._write(copy.deepcopy(cached.event)):
                continue  # could not write the final count; try next time
            self._cache.pop(key, None)

    async def _refresh_series(self) -> None:
        for cached in list(self._cache.values()):
            if "series" in cached.event:
                await self._write(copy.deepcopy(cached.event))

    async def _attempt(self, event: dict[str, Any]) -> None:
        for tries in range(1, MAX_TRIES + 1):
            if not await self._write(event):
                return
            if tries < MAX_TRIES:
                await self.clock.sleep(RETRY_SLEEP * (1 + self.rng.random() * 0.25))
        log.error("unable to write event %s (retry limit exceeded)", event["metadata"]["name"])

    async def _write(self, event: dict[str, Any]) -> bool:
        """Write one event; True when it should be retried."""
        namespace = event["metadata"]["namespace"]
        series = event.get("series")
        try:
            if series is not None:
                try:
                    await self.client.patch(
                        EVENTS,
                        event["metadata"]["name"],
                        {"series": series},
                        namespace,
                        # Upstream sends this as a strategic merge patch; for a body that only
                        # sets the ``series`` struct a JSON merge patch does the same, and
                        # every server accepts it.
                        patch_type=rest.PatchType.MERGE,
                    )
                    return False
                except errors.NotFound:
                    pass  # the event expired meanwhile: create it again
            event["metadata"].pop("resourceVersion", None)
            await self.client.create(EVENTS, event, namespace)
            return False
        except errors.AlreadyExists:
            return series is not None
        except errors.ApiError as e:
            log.error("server rejected event %s (will not retry): %s", event["metadata"]["name"], e)
            return False
        except (aiohttp.ClientError, OSError, TimeoutError) as e:
            log.warning("unable to write event (may retry): %s", e)
            return True


def _key(event: Mapping[str, Any]) -> tuple[str, ...]:
    regarding = event.get("regarding") or {}
    related = event.get("related") or {}
    fields = ("apiVersion", "kind", "namespace", "name", "uid", "resourceVersion")
    return (
        event.get("type", ""),
        event.get("action", ""),
        event.get("reason", ""),
        event.get("reportingController", ""),
        event.get("reportingInstance", ""),
        *(str(regarding.get(f, "")) for f in fields),
        *(str(related.get(f, "")) for f in fields),
    )
