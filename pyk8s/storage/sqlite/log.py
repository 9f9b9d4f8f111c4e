"""SQLite storage: kine's append-only revision log in one file, the default backend.

Mirrors kine ``pkg/logstructured/logstructured.go`` (the log as a key-value
store with revisions) over ``pkg/drivers/sqlite/sqlite.go``, for one process
that owns the file (an exclusive lock next to it keeps a second one out):

- writes go to the single :mod:`~pyk8s.storage.sqlite.writer` thread (group
  commit, WAL, ``synchronous=FULL``: an acknowledged write survives kill -9 and
  power loss);
- the current value of every key is kept in memory (updated on the event loop,
  in revision order, when a batch commits), so get/list/count at the current
  revision never touch the file; older revisions are read by
  :mod:`~pyk8s.storage.sqlite.reader` threads;
- committed events go straight to the shared :class:`Broadcaster`; a watch
  starting in the past replays the log table first;
- ``compact`` deletes superseded rows in small steps queued behind writes, so
  it never stalls them, and records the compacted revision in the file first.
"""

from __future__ import annotations

import asyncio
import bisect
import fcntl
import functools
import logging
import os
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pyk8s.storage import conditions, continuetoken
from pyk8s.storage.broadcaster import DEFAULT_BUFFER, Broadcaster, Watcher
from pyk8s.storage.interface import (
    ConflictError,
    CorruptStoreError,
    Event,
    EventType,
    FutureRevisionError,
    KeyExistsError,
    KeyNotFoundError,
    KeyValue,
    ListResult,
    Preconditions,
    StorageUnavailableError,
    TooOldError,
    TryUpdate,
    ValidateDeletion,
)
from pyk8s.storage.sqlite import reader, schema, turns
from pyk8s.storage.sqlite.writer import Kind, LostRace, Op, Outcome, Row, Writer

log = logging.getLogger(__name__)

COMPACT_STEP = 200
"""Revisions scanned per compaction step (one short transaction each)."""


class _Opened:
    """What start-up reads from the file (built in a thread)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lock_fd = _lock(path)
        try:
            exists = schema.verify(path)
            self.conn = schema.connect(path, create=not exists)
            try:
                self._load()
            except BaseException:
                self.conn.close()
                raise
        except sqlite3.Error as e:
            os.close(self.lock_fd)
            if getattr(e, "sqlite_errorname", "") in ("SQLITE_CORRUPT", "SQLITE_NOTADB"):
                raise CorruptStoreError(
                    f"{path}: damaged ({e}); refusing to start (nothing was reset)"
                ) from e
            raise StorageUnavailableError(f"{path}: cannot open the store ({e})") from e
        except BaseException:
            os.close(self.lock_fd)
            raise

    def _load(self) -> None:
        c = self.conn
        seq = c.execute("SELECT seq FROM sqlite_sequence WHERE name = 'kine'").fetchone()
        top = c.execute("SELECT MAX(id) FROM kine").fetchone()[0] or 0
        self.revision = max(seq[0] if seq else 0, top)
        meta = dict(c.execute("SELECT key, value FROM meta").fetchall())
        self.compacted = int(meta.get("compact_revision", 0))
        self.compact_done = int(meta.get("compact_done", 0))
        self.state: dict[str, Row] = {}
        rows = c.execute(
            """SELECT k.id, k.name, k.deleted, k.create_revision, k.value
               FROM (SELECT MAX(id) AS id FROM kine GROUP BY name) m JOIN kine k ON k.id = m.id"""
        )
        for rid, name, deleted, create_rev, value in rows:
            self.state[name] = Row(rid, bool(deleted), create_rev, value)


def _lock(path: Path) -> int:
    lock_path = path.with_name(path.name + ".lock")
    try:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError as e:
        raise StorageUnavailableError(f"cannot create lock file {lock_path}: {e}") from e
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise StorageUnavailableError(
            f"{path} is in use by another process (lock {lock_path} is held)"
        ) from None
    return fd


def _check_input(key: str, value: bytes) -> None:
    """Refuse what SQLite would store wrongly (a str comes back as str) or not at all."""
    if not isinstance(value, bytes):
        raise TypeError(f"value for {key!r} must be bytes, not {type(value).__name__}")
    if not isinstance(key, str) or not key:
        raise ValueError(f"key must be a non-empty str, not {key!r}")
    try:
        key.encode()
    except UnicodeEncodeError as e:
        raise ValueError(f"key {key!r} is not valid UTF-8 text: {e}") from None


class SqliteStorage:
    """Open with ``await SqliteStorage.open(path)``; ``close`` when done."""

    def __init__(self, opened: _Opened, *, watch_buffer: int) -> None:
        self.path = opened.path
        self._lock_fd = opened.lock_fd
        self._rev = opened.revision
        self._compacted = opened.compacted
        self._compact_done = opened.compact_done
        self._compact_lock = asyncio.Lock()
        self._turns = turns.Turns()
        self._kv: dict[str, KeyValue] = {
            name: KeyValue(name, row.value, row.create_revision, row.id)
            for name, row in opened.state.items()
            if not row.deleted
        }
        self._keys = sorted(self._kv)
        self._broadcaster = Broadcaster(self._rev, watch_buffer)
        self._readers = reader.Readers(self.path)
        self._writer = Writer(
            self.path,
            opened.conn,
            opened.state,
            self._rev,
            asyncio.get_running_loop(),
            self._delivered,
        )
        self._writer.start()
        self._closed = False

    @classmethod
    async def open(cls, path: Path, *, watch_buffer: int = DEFAULT_BUFFER) -> SqliteStorage:
        opened = await asyncio.to_thread(_Opened, path)
        return cls(opened, watch_buffer=watch_buffer)

    # -- the event-loop side of a commit

    def _delivered(self, events: list[Event], outcomes: list[Outcome]) -> None:
        for ev in events:
            if ev.type is EventType.DELETED:
                if self._kv.pop(ev.key, None) is not None:
                    self._keys.pop(bisect.bisect_left(self._keys, ev.key))
            else:
                if ev.key not in self._kv:
                    bisect.insort(self._keys, ev.key)
                self._kv[ev.key] = KeyValue(ev.key, ev.value, ev.create_revision, ev.revision)
        if events:
            self._rev = events[-1].revision
            self._broadcaster.publish(events)
        for fut, result in outcomes:
            if fut.done():
                continue
            if isinstance(result, BaseException):
                fut.set_exception(result)
            else:
                fut.set_result(result)

    async def _submit(self, op: Op) -> Any:
        self._ensure_open()
        self._writer.submit(op)
        return await op.future

    def _op(self, kind: Kind, key: str, **fields: Any) -> Op:
        return Op(kind, key, asyncio.get_running_loop().create_future(), **fields)

    # -- reads

    def _check_revision(self, revision: int) -> None:
        if revision > self._rev:
            raise FutureRevisionError(revision, self._rev)
        if 0 < revision < self._compacted:
            raise TooOldError(revision, self._compacted)

    def _still_readable(self, revision: int) -> None:
        """After a read in a thread: compaction may have started meanwhile."""
        if revision < self._compacted:
            raise TooOldError(revision, self._compacted)

    async def get(self, key: str, *, revision: int = 0) -> KeyValue:
        self._ensure_open()
        self._check_revision(revision)
        if revision in (0, self._rev):
            kv = self._kv.get(key)
        else:
            kv = await self._readers.run(lambda c: reader.get_at(c, key, revision))
            self._still_readable(revision)
        if kv is None:
            raise KeyNotFoundError(key)
        return kv

    async def list(
        self,
        prefix: str,
        *,
        limit: int = 0,
        continue_token: str | None = None,
        revision: int = 0,
    ) -> ListResult:
        self._ensure_open()
        start = prefix
        if continue_token:
            revision, start = continuetoken.decode(continue_token, prefix)
        self._check_revision(revision)
        if revision in (0, self._rev):
            return self._list_current(prefix, start, limit)
        rev = revision
        items, next_key = await self._readers.run(
            lambda c: reader.list_at(c, prefix, start, rev, limit)
        )
        self._still_readable(rev)
        token = continuetoken.encode(rev, prefix, next_key) if next_key is not None else None
        return ListResult(items=items, revision=rev, continue_token=token)

    def _list_current(self, prefix: str, start: str, limit: int) -> ListResult:
        lo = bisect.bisect_left(self._keys, start)
        hi = bisect.bisect_left(self._keys, reader.prefix_end(prefix), lo)
        end = min(hi, lo + limit) if limit else hi
        items = [self._kv[k] for k in self._keys[lo:end]]
        token = remaining = None
        if end < hi:
            token = continuetoken.encode(self._rev, prefix, self._keys[end])
            remaining = hi - end
        return ListResult(items, self._rev, token, remaining)

    async def count(self, prefix: str) -> int:
        self._ensure_open()
        lo = bisect.bisect_left(self._keys, prefix)
        return bisect.bisect_left(self._keys, reader.prefix_end(prefix), lo) - lo

    async def current_revision(self) -> int:
        return self._rev

    async def compacted_revision(self) -> int:
        return self._compacted

    # -- writes

    async def create(self, key: str, value: bytes) -> KeyValue:
        self._ensure_open()
        _check_input(key, value)
        if key in self._kv:
            raise KeyExistsError(key)
        kv: KeyValue = await self._submit(self._op(Kind.CREATE, key, value=value))
        return kv

    async def guaranteed_update(
        self,
        key: str,
        try_update: TryUpdate,
        *,
        preconditions: Preconditions | None = None,
        ignore_not_found: bool = False,
    ) -> KeyValue:
        self._ensure_open()
        async with self._turns.take(key):
            return await self._update(key, try_update, preconditions, ignore_not_found)

    async def _update(
        self,
        key: str,
        try_update: TryUpdate,
        preconditions: Preconditions | None,
        ignore_not_found: bool,
    ) -> KeyValue:
        for _ in range(conditions.MAX_UPDATE_ATTEMPTS):
            current = self._kv.get(key)
            if current is None:
                if not ignore_not_found:
                    raise KeyNotFoundError(key)
                current = conditions.empty(key)
            conditions.check(current, preconditions)
            new = await try_update(current)
            self._ensure_open()
            latest = self._kv.get(key)
            if (latest.mod_revision if latest else 0) != current.mod_revision:
                continue  # changed while try_update ran: read again
            if new is None or (latest is not None and new == latest.value):
                if latest is None:
                    raise KeyNotFoundError(key)
                return latest
            _check_input(key, new)
            op = self._op(Kind.UPDATE, key, value=new, expected=current.mod_revision)
            try:
                kv: KeyValue = await self._submit(op)
            except LostRace:
                continue
            return kv
        raise ConflictError(key)

    async def delete(
        self,
        key: str,
        *,
        preconditions: Preconditions | None = None,
        validate_deletion: ValidateDeletion | None = None,
    ) -> KeyValue:
        self._ensure_open()
        async with self._turns.take(key):
            return await self._delete(key, preconditions, validate_deletion)

    async def _delete(
        self,
        key: str,
        preconditions: Preconditions | None,
        validate_deletion: ValidateDeletion | None,
    ) -> KeyValue:
        for _ in range(conditions.MAX_UPDATE_ATTEMPTS):
            current = self._kv.get(key)
            if current is None:
                raise KeyNotFoundError(key)
            conditions.check(current, preconditions)
            if validate_deletion is not None:
                await validate_deletion(current)
            op = self._op(Kind.DELETE, key, expected=current.mod_revision)
            try:
                kv: KeyValue = await self._submit(op)
            except LostRace:
                continue
            return kv
        raise ConflictError(key)

    # -- watch and compaction

    def watch(self, prefix: str, *, from_revision: int = 0) -> Watcher:
        self._ensure_open()
        if from_revision and from_revision + 1 < self._compacted:
            raise TooOldError(from_revision, self._compacted)
        return self._broadcaster.subscribe(
            prefix, from_revision, functools.partial(self._backlog, prefix)
        )

    async def _backlog(self, prefix: str, after: int, upto: int) -> Sequence[Event]:
        events = await self._readers.run(lambda c: reader.events_between(c, prefix, after, upto))
        if after + 1 < self._compacted:  # compacted while the watcher started
            raise TooOldError(after, self._compacted)
        return events

    async def compact(self, revision: int) -> None:
        self._ensure_open()
        if revision > self._rev:
            raise FutureRevisionError(revision, self._rev)
        async with self._compact_lock:
            if revision <= self._compacted:
                return
            await self._submit(self._op(Kind.COMPACT_BEGIN, "", target=revision))
            self._compacted = revision
            lo = self._compact_done
            removed = 0
            while lo < revision:
                hi = min(lo + COMPACT_STEP, revision)
                op = self._op(Kind.COMPACT_STEP, "", lo=lo, hi=hi, target=revision)
                removed += await self._submit(op)
                lo = hi
                self._compact_done = hi if hi < revision else revision - 1
            log.debug("%s: compacted to %d, %d rows removed", self.path, revision, removed)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._broadcaster.close_all("storage closed")
        await asyncio.to_thread(self._writer.stop)
        await asyncio.to_thread(self._readers.close)
        await asyncio.to_thread(os.close, self._lock_fd)

    def _ensure_open(self) -> None:
        if self._closed:
            raise StorageUnavailableError("storage is closed")
