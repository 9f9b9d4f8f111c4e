"""The one thread that writes the SQLite log, with group commit.

Mirrors the write half of kine ``pkg/logstructured/sqllog/sql.go`` (``Append``)
and ``pkg/logstructured/logstructured.go`` (``Create``/``Update``/``Delete``),
reshaped for a single process that owns the file: every write goes through one
connection on one thread, so SQLite never answers ``database is locked``.

Group commit: the thread takes every operation that queued up while the last
commit was syncing, checks each against its own record of the newest row per
key (so one failing operation — key exists, lost race — fails alone and never
poisons the batch), and writes the rest with ONE multi-row INSERT in autocommit
mode: one statement is one transaction and one fsync. One statement matters
beyond SQLite: every SQLite call releases the GIL, and while the event loop is
busy, taking it back can cost a whole switch interval (5 ms), so a batch costs
two hand-offs (wake-up, INSERT) instead of one per row.
``UNIQUE(name, prev_revision)`` stays as the safety net: if the INSERT is
refused, the batch is retried one operation at a time to find the culprit.

After the INSERT the thread hands the batch's events and results to the event
loop with one ``call_soon_threadsafe``, in revision order; the loop updates its
read cache and the watch broadcaster before it wakes the callers. Compaction
steps run between batches, each in its own short transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import functools
import logging
import queue
import sqlite3
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from pyk8s.storage.interface import (
    ConflictError,
    Event,
    EventType,
    KeyExistsError,
    KeyNotFoundError,
    KeyValue,
    StorageError,
    StorageUnavailableError,
)

log = logging.getLogger(__name__)

MAX_BATCH = 256
"""Rows per INSERT (8 parameters each; SQLite allows 32766)."""


@functools.cache
def _insert_sql(rows: int) -> str:
    values = ", ".join(["(?, ?, ?, ?, ?, ?, 0, ?, ?)"] * rows)
    return (
        "INSERT INTO kine (id, name, created, deleted, create_revision, prev_revision, lease, "
        f"value, old_value) VALUES {values}"
    )


# Errors of one operation's data, not of the file: retry the batch row by row.
_ROW_ERRORS = (
    sqlite3.IntegrityError,
    sqlite3.InterfaceError,
    sqlite3.ProgrammingError,
    ValueError,
    TypeError,
    OverflowError,
)


class Row(NamedTuple):
    """The newest log row of a key, as the writer knows it."""

    id: int
    deleted: bool
    create_revision: int
    value: bytes


class Kind(enum.Enum):
    CREATE = "create"
    UPDATE = "update"  # creates too when expected == 0 and the key is absent
    DELETE = "delete"
    COMPACT_BEGIN = "compact-begin"
    COMPACT_STEP = "compact-step"


_WRITES = (Kind.CREATE, Kind.UPDATE, Kind.DELETE)


class LostRace(ConflictError):
    """The key changed after the caller read it; the caller reads again and retries."""


@dataclass(slots=True)
class Op:
    kind: Kind
    key: str
    future: asyncio.Future[Any]
    value: bytes = b""
    expected: int = 0
    """UPDATE/DELETE: the mod_revision the caller read (0: the key was absent)."""
    lo: int = 0
    hi: int = 0
    target: int = 0


Outcome = tuple["asyncio.Future[Any]", Any]
Deliver = Callable[[list[Event], list[Outcome]], None]


@dataclass
class _Batch:
    rev: int
    pending: dict[str, Row | None] = field(default_factory=dict)
    events: list[Event] = field(default_factory=list)
    outcomes: list[Outcome] = field(default_factory=list)
    params: list[object] = field(default_factory=list)
    rows: int = 0


def unavailable(path: Path, e: sqlite3.Error) -> StorageUnavailableError:
    if getattr(e, "sqlite_errorname", "") == "SQLITE_FULL":
        return StorageUnavailableError(f"{path}: disk full, write refused ({e})")
    return StorageUnavailableError(f"{path}: write failed ({e})")


class Writer:
    def __init__(
        self,
        path: Path,
        conn: sqlite3.Connection,
        state: dict[str, Row],
        revision: int,
        loop: asyncio.AbstractEventLoop,
        deliver: Deliver,
    ) -> None:
        self._path = path
        self._conn = conn
        self._state = state
        self._rev = revision
        self._loop = loop
        self._deliver = deliver
        self._queue: queue.SimpleQueue[Op | None] = queue.SimpleQueue()
        self._broken: str | None = None
        self._thread = threading.Thread(target=self._run, name="sqlite-writer", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def submit(self, op: Op) -> None:
        self._queue.put(op)

    def stop(self) -> None:
        """Finish what is queued, then close the connection (blocks: call in a thread)."""
        self._queue.put(None)
        self._thread.join()

    # -- the thread

    def _run(self) -> None:
        stopping = False
        while not stopping:
            op = self._queue.get()
            if op is None:
                break
            batch = [op]
            while len(batch) < MAX_BATCH:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    stopping = True
                    break
                batch.append(nxt)
            try:
                self._write(batch)
            except BaseException as e:  # a bug: fail the batch, keep the thread
                log.exception("%s: writer failed", self._path)
                self._rollback()
                err = StorageUnavailableError(f"{self._path}: internal writer error: {e!r}")
                self._hand_over([], [(op.future, err) for op in batch if not op.future.done()])
        try:
            self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.Error as e:
            log.warning("%s: checkpoint at close failed: %s", self._path, e)
        self._conn.close()

    def _write(self, ops: Sequence[Op]) -> None:
        if self._broken is not None:
            err = StorageUnavailableError(self._broken)
            self._hand_over([], [(op.future, err) for op in ops])
            return
        writes = [op for op in ops if op.kind in _WRITES]
        if writes:
            self._write_rows(writes)
        for op in ops:
            if op.kind not in _WRITES:
                self._maintain(op)

    def _write_rows(self, ops: Sequence[Op]) -> None:
        b = _Batch(rev=self._rev)
        for op in ops:
            try:
                b.outcomes.append((op.future, self._plan(op, b)))
            except StorageError as e:
                b.outcomes.append((op.future, e))
        if b.rows:
            try:
                self._conn.execute(_insert_sql(b.rows), b.params)
            except _ROW_ERRORS as e:
                if len(ops) > 1:
                    for op in ops:  # nothing was written: find the one at fault
                        self._write_rows([op])
                    return
                self._hand_over([], [(ops[0].future, self._refused(ops[0], e))])
                return
            except sqlite3.Error as e:
                if not self._landed(b, e):
                    err = unavailable(self._path, e)
                    log.error("%s", err)
                    outcomes = [
                        (f, r if isinstance(r, BaseException) else err) for f, r in b.outcomes
                    ]
                    self._hand_over([], outcomes)
                    return
        self._apply(b)
        self._hand_over(b.events, b.outcomes)

    def _refused(self, op: Op, e: Exception) -> StorageError:
        log.warning("%s: write of %s refused: %s", self._path, op.key, e)
        if isinstance(e, sqlite3.IntegrityError):
            return KeyExistsError(op.key) if op.kind is Kind.CREATE else LostRace(op.key)
        return StorageError(f"cannot store {op.key!r}: {e}")

    def _landed(self, b: _Batch, e: sqlite3.Error) -> bool:
        """After a failed INSERT: make sure it really did not land (SQLite may
        report an error after the commit itself succeeded)."""
        self._rollback()
        try:
            last = self._conn.execute("SELECT MAX(id) FROM kine").fetchone()[0] or 0
        except sqlite3.Error as e2:
            self._broken = (
                f"{self._path}: cannot tell whether a write landed after {e} ({e2}); "
                "restart to recover"
            )
            log.error("%s", self._broken)
            return False
        return bool(last == b.rev)

    def _apply(self, b: _Batch) -> None:
        for key, row in b.pending.items():
            if row is None:
                self._state.pop(key, None)
            else:
                self._state[key] = row
        self._rev = b.rev

    def _rollback(self) -> None:
        if self._conn.in_transaction:
            try:
                self._conn.execute("ROLLBACK")
            except sqlite3.Error as e:
                log.warning("%s: rollback failed: %s", self._path, e)

    def _hand_over(self, events: list[Event], outcomes: list[Outcome]) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is gone: nobody is waiting
            self._loop.call_soon_threadsafe(self._deliver, events, outcomes)

    # -- planning one write into the batch

    def _current(self, b: _Batch, key: str) -> Row | None:
        if key in b.pending:
            return b.pending[key]
        return self._state.get(key)

    def _row(
        self, b: _Batch, key: str, prev: Row | None, kind: EventType, value: bytes
    ) -> KeyValue:
        rev = b.rev + 1
        if kind is EventType.ADDED:
            create_rev, old = rev, None
        else:
            assert prev is not None
            create_rev, old = prev.create_revision, prev.value
        deleted = kind is EventType.DELETED
        b.params += (
            rev,
            key,
            kind is EventType.ADDED,
            deleted,
            create_rev,
            prev.id if prev is not None else 0,
            value,
            old,
        )
        b.rows += 1
        b.rev = rev
        b.pending[key] = Row(rev, deleted, create_rev, value)
        b.events.append(Event(kind, key, value, old, rev, create_rev))
        return KeyValue(key, value, create_rev, rev)

    def _plan(self, op: Op, b: _Batch) -> KeyValue:
        cur = self._current(b, op.key)
        live = cur if cur is not None and not cur.deleted else None
        if op.kind is Kind.CREATE:
            if live is not None:
                raise KeyExistsError(op.key)
            return self._row(b, op.key, cur, EventType.ADDED, op.value)
        if op.kind is Kind.UPDATE:
            if (live.id if live else 0) != op.expected:
                raise LostRace(op.key)
            if live is None:
                return self._row(b, op.key, cur, EventType.ADDED, op.value)
            return self._row(b, op.key, live, EventType.MODIFIED, op.value)
        if live is None:
            raise KeyNotFoundError(op.key)
        if live.id != op.expected:
            raise LostRace(op.key)
        return self._row(b, op.key, live, EventType.DELETED, live.value)

    # -- compaction

    def _maintain(self, op: Op) -> None:
        b = _Batch(rev=self._rev)
        try:
            self._conn.execute("BEGIN IMMEDIATE")
            if op.kind is Kind.COMPACT_BEGIN:
                self._conn.execute(
                    "UPDATE meta SET value = MAX(value, ?) WHERE key = 'compact_revision'",
                    (op.target,),
                )
                result: object = None
            else:
                result = self._compact_step(op, b)
            self._conn.execute("COMMIT")
        except sqlite3.Error as e:
            self._rollback()
            self._hand_over([], [(op.future, unavailable(self._path, e))])
            return
        self._apply(b)
        self._hand_over([], [(op.future, result)])

    def _compact_step(self, op: Op, b: _Batch) -> int:
        """Delete, for rows lo < id <= hi (hi <= target), the row each one
        supersedes, and the deletion tombstones among them older than target
        (kine's compact query). Returns how many rows went."""
        doomed = self._conn.execute(
            """SELECT p.id, p.name, p.deleted FROM kine k JOIN kine p ON p.id = k.prev_revision
               WHERE k.id > ? AND k.id <= ? AND k.prev_revision != 0
               UNION
               SELECT id, name, deleted FROM kine
               WHERE deleted = 1 AND id > ? AND id <= ? AND id < ?""",
            (op.lo, op.hi, op.lo, op.hi, op.target),
        ).fetchall()
        self._conn.executemany("DELETE FROM kine WHERE id = ?", [(r[0],) for r in doomed])
        for row_id, name, deleted in doomed:
            if deleted:
                cur = self._current(b, name)
                if cur is not None and cur.id == row_id:
                    b.pending[name] = None
        done = op.hi if op.hi < op.target else op.target - 1
        self._conn.execute("UPDATE meta SET value = ? WHERE key = 'compact_done'", (done,))
        return len(doomed)
