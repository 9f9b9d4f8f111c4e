"""Fan-out of committed events to watchers, with a bounded buffer per watcher
(kine ``pkg/broadcaster/broadcaster.go``; apiserver cacher's "terminate
unresponsive watchers").

A backend calls :meth:`Broadcaster.publish` on the event loop, once per commit
and strictly in revision order. ``publish`` never waits: a watcher whose buffer
is full is cut off with :class:`WatchClosedError` (the API server turns that
into a closed watch and the client relists), so one stalled reader never slows
the writers or the other watchers.

A watch that starts in the past first replays a *backlog* read from the
backend (events in ``(from_revision, start]``, where ``start`` is the last
revision published when the watcher subscribed); live events after ``start``
queue up meanwhile, so there is neither a gap nor a duplicate.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence

from pyk8s.storage.interface import Event, StorageError, WatchClosedError

Backlog = Callable[[int, int], Awaitable[Sequence[Event]]]
"""``backlog(after, upto)``: events with after < revision <= upto, in order."""

DEFAULT_BUFFER = 4096


class Watcher:
    """One subscriber; iterate it for events, ``close`` it when done."""

    def __init__(
        self,
        owner: Broadcaster,
        prefix: str,
        from_revision: int,
        start_revision: int,
        backlog: Backlog | None,
        buffer: int,
    ) -> None:
        self._owner = owner
        self._prefix = prefix
        self._from = from_revision
        self._start = start_revision
        self._backlog = backlog
        self._buffer = buffer
        self._pending: deque[Event] = deque()
        self._wakeup = asyncio.Event()
        self._error: BaseException | None = None
        self._closed = False
        self._live = False

    def _offer(self, events: Sequence[Event]) -> None:
        if self._closed:
            return
        added = False
        for ev in events:
            if ev.key.startswith(self._prefix):
                self._pending.append(ev)
                added = True
        if len(self._pending) > self._buffer:
            self._pending.clear()
            self._fail(WatchClosedError("watcher fell too far behind and was closed"))
            return
        if added:
            self._wakeup.set()

    def _fail(self, error: BaseException) -> None:
        if self._closed:
            return
        self._error = error
        self._closed = True
        self._owner._unsubscribe(self)
        self._wakeup.set()

    @property
    def buffered(self) -> int:
        """Events queued for this watcher and not read yet."""
        return len(self._pending)

    @property
    def closed(self) -> bool:
        return self._closed

    def __aiter__(self) -> AsyncIterator[Event]:
        return self._iterate()

    def progress(self) -> int:
        """A revision up to which every event under the prefix has been handed out (0 while
        some are still to come): the API server's watch cache resourceVersion, which its
        bookmarks carry even when no event matched the watcher for a while."""
        if self._closed or self._pending or not self._live:
            return 0
        return self._owner.last_revision

    async def _iterate(self) -> AsyncIterator[Event]:
        if self._backlog is not None and self._start > self._from:
            for ev in await self._backlog(self._from, self._start):
                if self._closed:
                    break
                if ev.key.startswith(self._prefix):
                    yield ev
        live_after = max(self._from, self._start)
        self._live = True
        while True:
            while self._pending:
                ev = self._pending.popleft()
                if ev.revision > live_after:
                    yield ev
            if self._closed:
                if self._error is not None:
                    raise self._error
                return
            self._wakeup.clear()
            await self._wakeup.wait()

    async def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._pending.clear()
            self._owner._unsubscribe(self)
            self._wakeup.set()


class Broadcaster:
    def __init__(self, last_revision: int = 0, buffer: int = DEFAULT_BUFFER) -> None:
        self.last_revision = last_revision
        self._buffer = buffer
        self._watchers: set[Watcher] = set()

    def subscribe(self, prefix: str, from_revision: int, backlog: Backlog | None) -> Watcher:
        """A watcher for changes under ``prefix`` after ``from_revision``;
        the caller has checked that ``from_revision`` is not compacted."""
        start = self.last_revision
        if from_revision <= 0:
            from_revision = start
        w = Watcher(self, prefix, from_revision, start, backlog, self._buffer)
        self._watchers.add(w)
        return w

    def publish(self, events: Sequence[Event]) -> None:
        if not events:
            return
        self.last_revision = events[-1].revision
        for w in list(self._watchers):
            w._offer(events)

    def close_all(self, reason: str) -> None:
        self.fail_all(WatchClosedError(reason))

    def fail_all(self, error: StorageError) -> None:
        """End every watcher's iteration with ``error`` (after what it has buffered)."""
        for w in list(self._watchers):
            w._fail(error)

    def _unsubscribe(self, w: Watcher) -> None:
        self._watchers.discard(w)

    def __len__(self) -> int:
        return len(self._watchers)
