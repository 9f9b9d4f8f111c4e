"""The one thread that writes the SQLite log, with group commit.

Mirrors the write half of kine ``pkg/logstructured/sqllog/sql.go`` (``Append``)
and ``pkg/logstructured/logstructured.go`` (``Create``/``Update``/``Delete``),
reshaped for a single process that owns the file: every write goes through one
connection on one thread, so SQLite never answers ``database is locked``.

Group commit: the thread takes every operation that queued up while the last
commit was syncing and writes them in one transaction with one fsync. Each
operation is checked against the writer's own view of the newest row per key
before its INSERT, so one failing operation (key exists, lost race) fails alone
and never poisons the batch; ``UNIQUE(name, prev_revision)`` stays as the
safety net (a failed INSERT is undone by SQLite at statement level).

After COMMIT the thread hands the batch's events and results to the event loop
with one ``call_soon_threadsafe``, in revision order; the loop updates its
read cache and the watch broadcaster before it wakes the callers.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
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

MAX_BATCH = 512

_INSERT = (
    "INSERT INTO kine (id, name, created, deleted, create_revision, prev_revision, lease, "
    "value, old_value) VALUES (?, ?, ?, ?, ?, ?, 0, ?, ?)"
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
    pending: dict[str, Row | None] = field(default_factory=dict)
    events: list[Event] = field(default_factory=list)
    outcomes: list[Outcome] = field(default_factory=list)
    rev: int = 0


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
            self._write(batch)
        try:
            self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.Error as e:
            log.warning("%s: checkpoint at close failed: %s", self._path, e)
        self._conn.close()

    def _write(self, ops: Sequence[Op]) -> None:
        b = _Batch(rev=self._rev)
        if self._broken is not None:
            err = StorageUnavailableError(self._broken)
            self._hand_over([], [(op.future, err) for op in ops])
            return
        conn = self._conn
        writes: list[int] = []  # indexes in b.outcomes of ops that changed the log
        try:
            conn.execute("BEGIN IMMEDIATE")
            for op in ops:
                try:
                    result = self._apply(op, b)
                except StorageError as e:
                    b.outcomes.append((op.future, e))
                    continue
                except (sqlite3.InterfaceError, sqlite3.ProgrammingError, ValueError) as e:
                    # Bad input (a value SQLite cannot bind): nothing was written.
                    bad = StorageError(f"cannot store {op.key!r}: {e}")
                    b.outcomes.append((op.future, bad))
                    continue
                except sqlite3.IntegrityError as e:
                    log.warning("%s: constraint failed for %s: %s", self._path, op.key, e)
                    lost: StorageError = (
                        KeyExistsError(op.key) if op.kind is Kind.CREATE else LostRace(op.key)
                    )
                    b.outcomes.append((op.future, lost))
                    continue
                writes.append(len(b.outcomes))
                b.outcomes.append((op.future, result))
            conn.execute("COMMIT")
        except sqlite3.Error as e:
            if not self._committed_anyway(b, e):
                err = unavailable(self._path, e)
                log.error("%s", err)
                for i in writes:
                    b.outcomes[i] = (b.outcomes[i][0], err)
                b.outcomes += [(op.future, err) for op in ops[len(b.outcomes) :]]
                self._hand_over([], b.outcomes)
                return
        except BaseException as e:  # a bug: fail the batch, keep the thread
            log.exception("%s: writer failed", self._path)
            self._rollback()
            err = StorageUnavailableError(f"{self._path}: internal writer error: {e!r}")
            self._hand_over([], [(op.future, err) for op in ops])
            return
        for key, row in b.pending.items():
            if row is None:
                self._state.pop(key, None)
            else:
                self._state[key] = row
        self._rev = b.rev
        self._hand_over(b.events, b.outcomes)

    def _committed_anyway(self, b: _Batch, e: sqlite3.Error) -> bool:
        """After a failed statement or COMMIT: roll back, then make sure the
        transaction really did not land (SQLite may report an error after the
        commit itself succeeded)."""
        self._rollback()
        if b.rev == self._rev:
            return False
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

    def _rollback(self) -> None:
        if self._conn.in_transaction:
            try:
                self._conn.execute("ROLLBACK")
            except sqlite3.Error as e:
                log.warning("%s: rollback failed: %s", self._path, e)

    def _hand_over(self, events: list[Event], outcomes: list[Outcome]) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is gone: nobody is waiting
            self._loop.call_soon_threadsafe(self._deliver, events, outcomes)

    # -- one operation, inside the batch's transaction

    def _current(self, b: _Batch, key: str) -> Row | None:
        if key in b.pending:
            return b.pending[key]
        return self._state.get(key)

    def _insert(
        self, b: _Batch, key: str, prev: Row | None, kind: EventType, value: bytes
    ) -> KeyValue:
        rev = b.rev + 1
        prev_id = prev.id if prev is not None else 0
        if kind is EventType.ADDED:
            create_rev, old = rev, None
        else:
            assert prev is not None
            create_rev, old = prev.create_revision, prev.value
        self._conn.execute(
            _INSERT,
            (
                rev,
                key,
                kind is EventType.ADDED,
                kind is EventType.DELETED,
                create_rev,
                prev_id,
                value,
                old,
            ),
        )
        b.rev = rev
        b.pending[key] = Row(rev, kind is EventType.DELETED, create_rev, value)
        b.events.append(Event(kind, key, value, old, rev, create_rev))
        return KeyValue(key, value, create_rev, rev)

    def _apply(self, op: Op, b: _Batch) -> object:
        cur = self._current(b, op.key)
        live = cur if cur is not None and not cur.deleted else None
        if op.kind is Kind.CREATE:
            if live is not None:
                raise KeyExistsError(op.key)
            return self._insert(b, op.key, cur, EventType.ADDED, op.value)
        if op.kind is Kind.UPDATE:
            if (live.id if live else 0) != op.expected:
                raise LostRace(op.key)
            if live is None:
                return self._insert(b, op.key, cur, EventType.ADDED, op.value)
            return self._insert(b, op.key, live, EventType.MODIFIED, op.value)
        if op.kind is Kind.DELETE:
            if live is None:
                raise KeyNotFoundError(op.key)
            if live.id != op.expected:
                raise LostRace(op.key)
            return self._insert(b, op.key, live, EventType.DELETED, live.value)
        if op.kind is Kind.COMPACT_BEGIN:
            self._conn.execute(
                "UPDATE meta SET value = MAX(value, ?) WHERE key = 'compact_revision'",
                (op.target,),
            )
            return None
        if op.kind is Kind.COMPACT_STEP:
            return self._compact_step(op, b)
        raise AssertionError(op.kind)

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
