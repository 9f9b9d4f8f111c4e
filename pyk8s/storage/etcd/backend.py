"""storage.Interface on a real etcd v3 cluster.

Mirrors apiserver ``pkg/storage/etcd3/store.go`` (Get, GetList, Create,
GuaranteedUpdate, Delete), ``watcher.go`` and ``compact.go``:

- revisions are etcd's: ``create_revision``/``mod_revision`` of the key, one
  global counter, reads at a past revision until etcd compacts it;
- ``create`` is a txn on ``create_revision == 0``; ``guaranteed_update`` and
  ``delete`` read, then write in a txn on ``mod_revision == what we read``,
  and on a lost race take the fresh value from the txn's else-branch and try
  again;
- ``list`` pages with etcd's ``limit``/``more``/``count``; the continue token
  pins the first page's revision, so later pages read the same snapshot;
- watch: one etcd watch on the whole key space (with ``prev_kv``) feeds a
  :class:`Broadcaster` for watchers that start now or later than what it has
  delivered; a watcher that starts further back gets its own etcd watch from
  ``from_revision + 1``. Either way a watcher has a bounded buffer and is cut
  off when it falls behind; the etcd streams never wait for it.

WARNING: etcd compaction is cluster-wide. ``compact(R)`` drops history of every
key in that etcd, not only under this store's prefix (kube-apiserver does the
same). etcd has no call that reports the compacted revision, so it is found at
start-up by a binary search of reads at past revisions, then kept up to date
from our own compactions and from etcd's "compacted" answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Coroutine, Sequence
from typing import Any, TypeVar

from pyk8s.storage import conditions, continuetoken
from pyk8s.storage.broadcaster import DEFAULT_BUFFER, Broadcaster, Watcher
from pyk8s.storage.etcd import client as etcd
from pyk8s.storage.etcd.keys import KeyMap
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
    Watch,
)

log = logging.getLogger(__name__)

_Read = TypeVar("_Read", etcd.RangeResult, etcd.Page)

_RETRY_MIN, _RETRY_MAX = 0.05, 2.0  # watch stream reconnect back-off, seconds
_FEED_POLL = 0.005  # how often a full dedicated watcher is checked for room, seconds


class EtcdStorage:
    """Open with :meth:`open`; ``close`` when done."""

    def __init__(
        self,
        client: etcd.Client,
        keys: KeyMap,
        *,
        revision: int,
        compacted: int,
        watch_buffer: int,
        stall_timeout: float,
    ) -> None:
        self._client = client
        self._keys = keys
        self._root = keys.root
        self._root_end = etcd.prefix_end(keys.root)
        self._seen = revision  # newest revision any etcd answer showed us
        self._compacted = compacted
        self._buffer = watch_buffer
        self._stall_timeout = stall_timeout
        self._shared = Broadcaster(revision, watch_buffer)
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed = False

    async def _start(self, timeout: float) -> None:
        # The shared stream starts "now" (an etcd watch from a past revision
        # is not synced at once and could be compacted before it catches up).
        created = asyncio.get_running_loop().create_future()
        self._spawn(
            self._shared,
            self._follow(self._shared, self._root, self._root_end, None, None, created),
        )
        try:
            await asyncio.wait_for(created, timeout)
        except TimeoutError:
            raise StorageUnavailableError("etcd did not start the watch stream in time") from None

    @classmethod
    async def open(
        cls,
        endpoints: etcd.Endpoints | str,
        *,
        prefix: str = "/registry",
        tls: etcd.TLSFiles | None = None,
        watch_buffer: int = DEFAULT_BUFFER,
        stall_timeout: float = 10.0,
        timeout: float = 15.0,
        connect_timeout: float = 10.0,
    ) -> EtcdStorage:
        """Connect to etcd and start following it.

        ``watch_buffer``: events a watcher may have unread before it is cut off;
        ``stall_timeout``: how long a watcher replaying history on its own etcd
        stream may read nothing before it is cut off; ``timeout``: per request."""
        if isinstance(endpoints, str):
            endpoints = etcd.Endpoints.parse(endpoints)
        keys = KeyMap(prefix)
        client = await etcd.Client.connect(
            endpoints, tls=tls, timeout=timeout, connect_timeout=connect_timeout
        )
        try:
            revision = (await client.range(keys.root, keys_only=True)).revision
            first = await _oldest_readable(client, keys.root, 1, revision)
        except BaseException:
            await client.close()
            raise
        store = cls(
            client,
            keys,
            revision=revision,
            compacted=first if first > 1 else 0,
            watch_buffer=watch_buffer,
            stall_timeout=stall_timeout,
        )
        try:
            await store._start(connect_timeout)
        except BaseException:
            await store.close()
            raise
        return store

    # -- helpers

    def _ensure_open(self) -> None:
        if self._closed:
            raise StorageUnavailableError("storage is closed")

    def _note(self, revision: int) -> int:
        self._seen = max(self._seen, revision)
        return revision

    def _kv(self, raw: etcd.RawKV) -> KeyValue:
        return KeyValue(
            self._keys.from_etcd(raw.key), raw.value, raw.create_revision, raw.mod_revision
        )

    async def _at(self, revision: int, read: Awaitable[_Read]) -> _Read:
        """Await a read at ``revision``, turning etcd's revision errors into ours."""
        try:
            res = await read
        except etcd.CompactedError:
            raise await self._too_old(revision) from None
        except etcd.FutureRevisionError:
            raise FutureRevisionError(revision, await self.current_revision()) from None
        self._note(res.revision)
        return res

    async def _too_old(self, requested: int) -> TooOldError:
        current = await self.current_revision()
        lo = max(requested + 1, self._compacted)
        self._compacted = max(
            self._compacted, await _oldest_readable(self._client, self._root, lo, current)
        )
        return TooOldError(requested, self._compacted)

    # -- reads

    async def get(self, key: str, *, revision: int = 0) -> KeyValue:
        self._ensure_open()
        res = await self._at(
            revision, self._client.range(self._keys.to_etcd(key), revision=revision)
        )
        if not res.kvs:
            raise KeyNotFoundError(key)
        return self._kv(res.kvs[0])

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
        end = etcd.prefix_end(self._keys.to_etcd(prefix))
        page = await self._at(
            revision,
            self._client.page(
                self._keys.to_etcd(start),
                end,
                revision=revision,
                limit=limit,
                decode_key=self._keys.from_etcd,
            ),
        )
        items = page.items
        rev = revision or page.revision
        token = remaining = None
        if page.more and items:
            token = continuetoken.encode(rev, prefix, continuetoken.after(items[-1].key))
            remaining = page.count - len(items)
        return ListResult(items=items, revision=rev, continue_token=token, remaining=remaining)

    async def count(self, prefix: str) -> int:
        self._ensure_open()
        raw = self._keys.to_etcd(prefix)
        res = await self._client.range(raw, etcd.prefix_end(raw), count_only=True)
        self._note(res.revision)
        return res.count

    async def current_revision(self) -> int:
        self._ensure_open()
        return self._note((await self._client.range(self._root, keys_only=True)).revision)

    async def compacted_revision(self) -> int:
        return self._compacted

    # -- writes

    async def create(self, key: str, value: bytes) -> KeyValue:
        self._ensure_open()
        res = await self._client.create(self._keys.to_etcd(key), value)
        self._note(res.revision)
        if not res.succeeded:
            raise KeyExistsError(key)
        return KeyValue(key, value, res.revision, res.revision)

    async def guaranteed_update(
        self,
        key: str,
        try_update: TryUpdate,
        *,
        preconditions: Preconditions | None = None,
        ignore_not_found: bool = False,
    ) -> KeyValue:
        self._ensure_open()
        raw_key = self._keys.to_etcd(key)
        read = await self._client.range(raw_key)
        self._note(read.revision)
        raw = read.kvs[0] if read.kvs else None
        for _ in range(conditions.MAX_UPDATE_ATTEMPTS):
            if raw is None:
                if not ignore_not_found:
                    raise KeyNotFoundError(key)
                current = conditions.empty(key)
            else:
                current = KeyValue(key, raw.value, raw.create_revision, raw.mod_revision)
            conditions.check(current, preconditions)
            new = await try_update(current)
            self._ensure_open()
            if new is None or (raw is not None and new == raw.value):
                if raw is None:
                    raise KeyNotFoundError(key)
                return current
            res = await self._client.put_if(raw_key, new, current.mod_revision)
            self._note(res.revision)
            if res.succeeded:
                return KeyValue(key, new, current.create_revision or res.revision, res.revision)
            raw = res.current  # lost a race: go again with what the txn read
        raise ConflictError(key)

    async def delete(
        self,
        key: str,
        *,
        preconditions: Preconditions | None = None,
        validate_deletion: ValidateDeletion | None = None,
    ) -> KeyValue:
        self._ensure_open()
        raw_key = self._keys.to_etcd(key)
        if preconditions is None and validate_deletion is None:
            res = await self._client.delete(raw_key)
            self._note(res.revision)
            if res.current is None:
                raise KeyNotFoundError(key)
            return KeyValue(key, res.current.value, res.current.create_revision, res.revision)
        read = await self._client.range(raw_key)
        self._note(read.revision)
        raw = read.kvs[0] if read.kvs else None
        for _ in range(conditions.MAX_UPDATE_ATTEMPTS):
            if raw is None:
                raise KeyNotFoundError(key)
            current = KeyValue(key, raw.value, raw.create_revision, raw.mod_revision)
            conditions.check(current, preconditions)
            if validate_deletion is not None:
                await validate_deletion(current)
                self._ensure_open()
            res = await self._client.delete_if(raw_key, current.mod_revision)
            self._note(res.revision)
            if res.succeeded:
                return KeyValue(key, current.value, current.create_revision, res.revision)
            raw = res.current
        raise ConflictError(key)

    # -- watch

    def watch(self, prefix: str, *, from_revision: int = 0) -> Watch:
        self._ensure_open()
        raw = self._keys.to_etcd(prefix)
        if from_revision and from_revision + 1 < self._compacted:
            raise TooOldError(from_revision, self._compacted)
        if from_revision <= 0:
            # "Now" is after every write this store has seen acknowledged, even
            # if the shared stream has not delivered it yet.
            return self._shared.subscribe(prefix, max(self._seen, self._shared.last_revision), None)
        if from_revision >= self._shared.last_revision:
            return self._shared.subscribe(prefix, from_revision, None)
        # Further back than the shared stream: a dedicated etcd watch.
        private = Broadcaster(from_revision, self._buffer)
        watcher = private.subscribe(prefix, from_revision, None)
        task = self._spawn(
            private, self._follow(private, raw, etcd.prefix_end(raw), from_revision, watcher)
        )
        return _OwnStream(watcher, task)

    def _event(self, raw: etcd.RawEvent) -> Event:
        kv, prev = raw.kv, raw.prev
        key = self._keys.from_etcd(kv.key)
        if raw.deleted:
            last = prev.value if prev else b""
            return Event(
                EventType.DELETED,
                key,
                last,
                last,
                kv.mod_revision,
                prev.create_revision if prev else 0,
            )
        if kv.create_revision == kv.mod_revision:
            return Event(EventType.ADDED, key, kv.value, None, kv.mod_revision, kv.create_revision)
        return Event(
            EventType.MODIFIED,
            key,
            kv.value,
            prev.value if prev else None,
            kv.mod_revision,
            kv.create_revision,
        )

    async def _follow(
        self,
        out: Broadcaster,
        key: bytes,
        end: bytes,
        after: int | None,
        only: Watcher | None,
        created: asyncio.Future[int] | None = None,
    ) -> None:
        """Publish etcd's changes in [key, end) after revision ``after`` (None: from
        now) to ``out``, resuming after the last revision seen when the stream
        breaks. ``only``: the single watcher of a dedicated stream, which ends when
        that watcher is gone. ``created`` gets etcd's revision once it is watching."""
        delay = _RETRY_MIN
        while True:
            start = 0 if after is None else after + 1
            try:
                async for batch in self._client.watch(key, end, start_revision=start):
                    delay = _RETRY_MIN
                    self._note(batch.revision)
                    if after is None:
                        after = out.last_revision = batch.revision
                    if created is not None and not created.done():
                        created.set_result(batch.revision)
                    if batch.events:
                        events = [self._event(e) for e in batch.events]
                        if only is None:
                            out.publish(events)
                        else:
                            await self._feed(out, only, events)
                        after = events[-1].revision
                    if only is not None and not len(out):
                        return
            except etcd.CompactedError as e:
                self._compacted = max(self._compacted, e.compact_revision)
                if only is not None:
                    out.fail_all(TooOldError(after or 0, e.compact_revision))
                    return
                # The shared stream lost history while it was disconnected:
                # its watchers must relist; carry on from the oldest revision left.
                out.close_all("etcd compacted the history of this watch; relist")
                after = out.last_revision = max(after or 0, e.compact_revision - 1)
            except StorageUnavailableError as e:
                log.warning("etcd watch broke (%s); resuming after revision %s", e, after)
                await asyncio.sleep(delay)
                delay = min(delay * 2, _RETRY_MAX)

    async def _feed(self, out: Broadcaster, watcher: Watcher, events: Sequence[Event]) -> None:
        """Hand a dedicated stream's events to its one watcher at the watcher's pace.

        etcd replays the history a watch starts from in large batches, so instead
        of cutting the watcher off when a batch is bigger than its buffer, wait
        for room; cut it off only once it has read nothing for ``stall_timeout``.
        Waiting here holds back only this stream (etcd buffers for it, not us)."""
        loop = asyncio.get_running_loop()
        for i in range(0, len(events), self._buffer):
            chunk = events[i : i + self._buffer]
            last, since = watcher.buffered, loop.time()
            while not watcher.closed and watcher.buffered + len(chunk) > self._buffer:
                if watcher.buffered < last:
                    last, since = watcher.buffered, loop.time()
                elif loop.time() - since > self._stall_timeout:
                    break  # publish anyway: the buffer overflows and the watcher is closed
                await asyncio.sleep(_FEED_POLL)
            out.publish(chunk)
            if watcher.closed:
                return

    def _spawn(self, out: Broadcaster, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        async def guarded() -> None:
            try:
                await coro
            except asyncio.CancelledError:
                out.close_all("storage closed")  # no-op for a watcher that closed itself
                raise
            except Exception:
                log.exception("etcd watch stream failed")
                out.close_all("etcd watch stream failed")

        task = asyncio.get_running_loop().create_task(guarded())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        task.add_done_callback(lambda _: coro.close())  # never started: no "never awaited"
        return task

    # -- compaction

    async def compact(self, revision: int) -> None:
        self._ensure_open()
        if revision <= self._compacted:
            return
        current = await self.current_revision()
        if revision > current:
            raise FutureRevisionError(revision, current)
        try:
            await self._client.compact(revision)
        except etcd.CompactedError:
            # Someone (another API server, etcdctl) compacted at least this far.
            revision = await _oldest_readable(self._client, self._root, revision, current)
        self._compacted = max(self._compacted, revision)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(list(self._tasks))
        self._shared.close_all("storage closed")
        await self._client.close()


class _OwnStream:
    """A watcher fed by its own etcd watch; closing it ends that stream."""

    def __init__(self, watcher: Watcher, task: asyncio.Task[None]) -> None:
        self._watcher = watcher
        self._task = task

    def __aiter__(self) -> AsyncIterator[Event]:
        return self._watcher.__aiter__()

    def progress(self) -> int:
        return self._watcher.progress()

    async def close(self) -> None:
        await self._watcher.close()
        if not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait([self._task])


async def _oldest_readable(client: etcd.Client, probe: bytes, lo: int, hi: int) -> int:
    """The smallest revision in [lo, hi] that etcd can still read (hi if none is older).

    etcd answers a read below its compacted revision with "compacted" and has no
    call that reports that revision, so search for it: about log2(hi - lo) reads.
    """
    lo = max(lo, 1)
    if lo >= hi:
        return hi
    try:  # the usual case first: nothing (more) compacted
        await client.range(probe, revision=lo, keys_only=True)
    except etcd.CompactedError:
        lo += 1
    else:
        return lo
    while lo < hi:
        mid = (lo + hi) // 2
        try:
            await client.range(probe, revision=mid, keys_only=True)
        except etcd.CompactedError:
            lo = mid + 1
        else:
            hi = mid
    return hi
