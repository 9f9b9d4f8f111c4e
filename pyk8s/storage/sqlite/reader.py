"""Reads of the SQLite log at past revisions, on a small pool of threads.

Mirrors the read half of kine ``pkg/logstructured/sqllog/sql.go`` (``List``,
``After``): the state at revision R is, per key, the newest row with
``id <= R`` unless that row is a deletion; the events after R are the rows with
``id > R`` in id order. Reads at the current revision never come here (the store
answers them from memory); these serve continue pages, reads at an older
resourceVersion and watch replays. Each thread has its own connection, so reads
run beside the writer (WAL) and never block the event loop.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from pyk8s.storage.interface import Event, EventType, KeyValue, StorageUnavailableError
from pyk8s.storage.sqlite import schema

T = TypeVar("T")

_MAX_KEY = "\U0010ffff"


def prefix_end(prefix: str) -> str:
    """The smallest string greater than every string starting with ``prefix``."""
    while prefix:
        last = ord(prefix[-1])
        if last < 0x10FFFF:
            return prefix[:-1] + chr(last + 1)
        prefix = prefix[:-1]
    return _MAX_KEY * 4


class Readers:
    def __init__(self, path: Path, threads: int = 2) -> None:
        self._path = path
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="sqlite-read")
        self._local = threading.local()
        self._conns: list[sqlite3.Connection] = []
        self._lock = threading.Lock()

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = schema.connect(self._path)
            conn.execute("PRAGMA query_only = 1")
            self._local.conn = conn
            with self._lock:
                self._conns.append(conn)
        return conn

    async def run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        def call() -> T:
            try:
                return fn(self._conn())
            except sqlite3.Error as e:
                raise StorageUnavailableError(f"{self._path}: read failed ({e})") from e

        try:
            return await asyncio.get_running_loop().run_in_executor(self._pool, call)
        except RuntimeError as e:  # the pool was shut down
            raise StorageUnavailableError(f"{self._path}: storage is closed") from e

    def close(self) -> None:
        """Blocks: call in a thread."""
        self._pool.shutdown(wait=True)
        with self._lock:
            for conn in self._conns:
                conn.close()
            self._conns.clear()


def get_at(conn: sqlite3.Connection, key: str, revision: int) -> KeyValue | None:
    row = conn.execute(
        "SELECT id, deleted, create_revision, value FROM kine WHERE name = ? AND id <= ? "
        "ORDER BY id DESC LIMIT 1",
        (key, revision),
    ).fetchone()
    if row is None or row[1]:
        return None
    return KeyValue(key, row[3], row[2], row[0])


def list_at(
    conn: sqlite3.Connection, prefix: str, start: str, revision: int, limit: int
) -> tuple[list[KeyValue], str | None]:
    """Up to ``limit`` (0: all) live keys in [start, end of prefix) at
    ``revision``, and the key the next page starts with (None: no more)."""
    rows = conn.execute(
        """SELECT k.name, k.value, k.create_revision, k.id FROM kine k
           WHERE k.name >= ? AND k.name < ? AND k.id <= ? AND k.deleted = 0
             AND NOT EXISTS (SELECT 1 FROM kine n
                             WHERE n.name = k.name AND n.id > k.id AND n.id <= ?)
           ORDER BY k.name LIMIT ?""",
        (start, prefix_end(prefix), revision, revision, limit + 1 if limit else -1),
    ).fetchall()
    items = [KeyValue(r[0], r[1], r[2], r[3]) for r in rows]
    if limit and len(items) > limit:
        return items[:limit], items[limit].key
    return items, None


def events_between(conn: sqlite3.Connection, prefix: str, after: int, upto: int) -> list[Event]:
    rows = conn.execute(
        """SELECT id, name, created, deleted, create_revision, value, old_value FROM kine
           WHERE id > ? AND id <= ? AND name >= ? AND name < ? ORDER BY id""",
        (after, upto, prefix, prefix_end(prefix)),
    ).fetchall()
    out: list[Event] = []
    for rid, name, created, deleted, create_rev, value, old in rows:
        if deleted:
            kind = EventType.DELETED
        elif created:
            kind = EventType.ADDED
        else:
            kind = EventType.MODIFIED
        out.append(Event(kind, name, value, old, rid, create_rev))
    return out
