"""In-memory storage: the full contract, kept in dicts, lost at exit.

The fake every layer above storage tests against (client-go's fake clientset
plays this part upstream). Keeps a version history per key, so reads at a past
revision and watch replays behave exactly as on SQLite and etcd.
"""

from __future__ import annotations

import bisect
import builtins
from collections.abc import Sequence

from pyk8s.storage import conditions, continuetoken
from pyk8s.storage.broadcaster import DEFAULT_BUFFER, Broadcaster, Watcher
from pyk8s.storage.interface import (
    ConflictError,
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

# One version of a key: (revision, value or None for a deletion).
_Version = tuple[int, KeyValue | None]


class MemoryStorage:
    def __init__(self, *, watch_buffer: int = DEFAULT_BUFFER) -> None:
        self._rev = 0
        self._compacted = 0
        self._history: dict[str, list[_Version]] = {}
        self._keys: list[str] = []  # sorted keys of _history
        self._log: list[Event] = []  # events since the compacted revision
        self._broadcaster = Broadcaster(0, watch_buffer)
        self._closed = False

    # -- reads

    def _check_revision(self, revision: int) -> None:
        if revision > self._rev:
            raise FutureRevisionError(revision, self._rev)
        if 0 < revision < self._compacted:
            raise TooOldError(revision, self._compacted)

    def _at(self, key: str, revision: int) -> KeyValue | None:
        versions = self._history.get(key)
        if not versions:
            return None
        if revision <= 0:
            return versions[-1][1]
        i = bisect.bisect_right(versions, revision, key=lambda v: v[0])
        return versions[i - 1][1] if i else None

    async def get(self, key: str, *, revision: int = 0) -> KeyValue:
        self._ensure_open()
        self._check_revision(revision)
        kv = self._at(key, revision)
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
        rev = revision or self._rev
        items: list[KeyValue] = []
        i = bisect.bisect_left(self._keys, start)
        next_key: str | None = None
        while i < len(self._keys) and self._keys[i].startswith(prefix):
            kv = self._at(self._keys[i], rev)
            i += 1
            if kv is None:
                continue
            if limit and len(items) == limit:
                next_key = kv.key
                break
            items.append(kv)
        token = None
        remaining = None
        if next_key is not None:
            token = continuetoken.encode(rev, prefix, next_key)
            remaining = 1 + sum(
                1 for k in self._keys[i:] if k.startswith(prefix) and self._at(k, rev) is not None
            )
        return ListResult(items=items, revision=rev, continue_token=token, remaining=remaining)

    async def count(self, prefix: str) -> int:
        self._ensure_open()
        i = bisect.bisect_left(self._keys, prefix)
        n = 0
        while i < len(self._keys) and self._keys[i].startswith(prefix):
            n += self._history[self._keys[i]][-1][1] is not None
            i += 1
        return n

    async def current_revision(self) -> int:
        return self._rev

    async def compacted_revision(self) -> int:
        return self._compacted

    # -- writes

    def _commit(self, key: str, kv: KeyValue | None, event: Event) -> None:
        versions = self._history.get(key)
        if versions is None:
            versions = self._history[key] = []
            bisect.insort(self._keys, key)
        versions.append((event.revision, kv))
        self._log.append(event)
        self._broadcaster.publish([event])

    async def create(self, key: str, value: bytes) -> KeyValue:
        self._ensure_open()
        if self._at(key, 0) is not None:
            raise KeyExistsError(key)
        self._rev += 1
        kv = KeyValue(key, value, self._rev, self._rev)
        self._commit(key, kv, Event(EventType.ADDED, key, value, None, self._rev, self._rev))
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
        for _ in range(conditions.MAX_UPDATE_ATTEMPTS):
            current = self._at(key, 0)
            if current is None:
                if not ignore_not_found:
                    raise KeyNotFoundError(key)
                current = conditions.empty(key)
            conditions.check(current, preconditions)
            new = await try_update(current)
            self._ensure_open()
            latest = self._at(key, 0)
            if (latest.mod_revision if latest else 0) != current.mod_revision:
                continue  # lost a race: read again and retry
            if new is None or (latest is not None and new == latest.value):
                if latest is None:
                    raise KeyNotFoundError(key)
                return latest
            self._rev += 1
            if latest is None:
                kv = KeyValue(key, new, self._rev, self._rev)
                ev = Event(EventType.ADDED, key, new, None, self._rev, self._rev)
            else:
                kv = KeyValue(key, new, latest.create_revision, self._rev)
                ev = Event(
                    EventType.MODIFIED, key, new, latest.value, self._rev, latest.create_revision
                )
            self._commit(key, kv, ev)
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
        for _ in range(conditions.MAX_UPDATE_ATTEMPTS):
            current = self._at(key, 0)
            if current is None:
                raise KeyNotFoundError(key)
            conditions.check(current, preconditions)
            if validate_deletion is not None:
                await validate_deletion(current)
                if self._at(key, 0) != current:
                    continue
            self._rev += 1
            ev = Event(
                EventType.DELETED,
                key,
                current.value,
                current.value,
                self._rev,
                current.create_revision,
            )
            self._commit(key, None, ev)
            return KeyValue(key, current.value, current.create_revision, self._rev)
        raise ConflictError(key)

    # -- watch and compaction

    def watch(self, prefix: str, *, from_revision: int = 0) -> Watcher:
        self._ensure_open()
        if from_revision and from_revision + 1 < self._compacted:
            raise TooOldError(from_revision, self._compacted)
        return self._broadcaster.subscribe(prefix, from_revision, self._backlog)

    async def _backlog(self, after: int, upto: int) -> Sequence[Event]:
        lo = bisect.bisect_right(self._log, after, key=lambda e: e.revision)
        hi = bisect.bisect_right(self._log, upto, key=lambda e: e.revision)
        if after + 1 < self._compacted:  # compacted while the watcher started
            raise TooOldError(after, self._compacted)
        return self._log[lo:hi]

    async def compact(self, revision: int) -> None:
        self._ensure_open()
        if revision > self._rev:
            raise FutureRevisionError(revision, self._rev)
        if revision <= self._compacted:
            return
        for key in builtins.list(self._history):
            versions = self._history[key]
            i = bisect.bisect_right(versions, revision, key=lambda v: v[0])
            # Keep the newest version at or before `revision` (it is the state
            # there), unless it is a deletion; drop everything older.
            keep_from = i - 1 if i and versions[i - 1][1] is not None else i
            del versions[: max(keep_from, 0)]
            if not versions:
                del self._history[key]
                self._keys.pop(bisect.bisect_left(self._keys, key))
        cut = bisect.bisect_left(self._log, revision, key=lambda e: e.revision)
        del self._log[:cut]
        self._compacted = revision

    async def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._broadcaster.close_all("storage closed")

    def _ensure_open(self) -> None:
        if self._closed:
            raise StorageUnavailableError("storage is closed")
