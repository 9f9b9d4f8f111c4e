"""Conditional writes to one key take turns, so writers in one process do not
lose optimistic races to each other.

With only optimistic concurrency (etcd3 ``store.go`` GuaranteedUpdate, kine),
N writers hammering one key each re-run ``try_update`` until they win, and
with group commit some of them starve (they always read one batch behind).
Since this process owns the SQLite file, it can do better: writers of one key
queue up (FIFO) and each ``try_update`` normally runs once. Correctness never
depends on the turn — the writer's revision check still catches every race —
so, to rule out deadlocks, a task already inside a turn (a ``try_update`` that
itself writes) never waits for another, and a wait longer than
:data:`MAX_WAIT` seconds goes on without the turn.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

log = logging.getLogger(__name__)

MAX_WAIT = 5.0


class _Turn:
    __slots__ = ("lock", "users")

    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self.users = 0


class Turns:
    def __init__(self) -> None:
        self._turns: dict[str, _Turn] = {}
        self._inside: set[asyncio.Task[Any] | None] = set()

    @contextlib.asynccontextmanager
    async def take(self, key: str) -> AsyncIterator[None]:
        task = asyncio.current_task()
        if task in self._inside:
            yield
            return
        turn = self._turns.get(key)
        if turn is None:
            turn = self._turns[key] = _Turn()
        turn.users += 1
        got = False
        try:
            if not turn.lock.locked():
                await turn.lock.acquire()
                got = True
            else:
                try:
                    await asyncio.wait_for(turn.lock.acquire(), MAX_WAIT)
                    got = True
                except TimeoutError:
                    log.warning("waited %.0fs for a turn to write %s; going on", MAX_WAIT, key)
            self._inside.add(task)
            try:
                yield
            finally:
                self._inside.discard(task)
                if got:
                    turn.lock.release()
        finally:
            turn.users -= 1
            if not turn.users:
                del self._turns[key]

    def __len__(self) -> int:
        return len(self._turns)
