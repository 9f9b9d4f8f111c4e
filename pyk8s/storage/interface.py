"""The storage contract every backend (SQLite, etcd, memory) implements.

Mirrors k8s.io/apiserver/pkg/storage/interfaces.go (``storage.Interface``) at the
level kine serves it: keys are strings such as ``/registry/pods/default/web``,
values are opaque bytes (the API server stores JSON), and one global revision
counter increases strictly with every write across all keys.

Revisions, as etcd defines them:

- ``KeyValue.create_revision`` is the revision of the write that created the key,
  ``KeyValue.mod_revision`` the revision of its last write (the object's
  resourceVersion).
- ``get``/``list`` at ``revision=R`` return the state right after revision R was
  written, as long as R is not older than the compacted revision.
- ``watch(prefix, from_revision=R)`` yields every change with a revision > R, in
  revision order. ``R == 0`` means "from now". If changes after R were compacted
  away, it fails with :class:`TooOldError` (the API server answers 410 Gone).
- ``compact(R)`` drops history older than R: afterwards reads at R or later still
  work and reads before R raise :class:`TooOldError`.

The error tree (each backend raises exactly these)::

    StorageError
     +-- KeyExistsError          create on a key that exists
     +-- KeyNotFoundError        get / update / delete of a missing key
     +-- PreconditionError       uid or resourceVersion precondition failed
     +-- ConflictError           optimistic-concurrency race lost too often
     +-- TooOldError             revision or continue token older than compaction
     +-- FutureRevisionError     revision newer than the store's
     +-- WatchClosedError        a watcher was cut off (too slow, or store closed)
     +-- InvalidContinueError    a continue token that does not parse
     +-- StorageUnavailableError disk full, I/O error, backend unreachable
     +-- CorruptStoreError       the database is not ours or is damaged
"""

from __future__ import annotations

import enum
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable


class StorageError(Exception):
    """Base class of every storage failure."""


class KeyExistsError(StorageError):
    def __init__(self, key: str) -> None:
        super().__init__(f"key exists: {key}")
        self.key = key


class KeyNotFoundError(StorageError):
    def __init__(self, key: str) -> None:
        super().__init__(f"key not found: {key}")
        self.key = key


class PreconditionError(StorageError):
    """A ``Preconditions`` field did not match the stored object (HTTP 409)."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(message)
        self.key = key


class ConflictError(StorageError):
    """``guaranteed_update`` lost the race to other writers more times than it retries."""

    def __init__(self, key: str) -> None:
        super().__init__(f"too many concurrent updates to {key}")
        self.key = key


class TooOldError(StorageError):
    """The requested revision has been compacted (HTTP 410 Gone)."""

    def __init__(self, requested: int, compacted: int) -> None:
        super().__init__(
            f"required revision {requested} has been compacted (oldest kept: {compacted})"
        )
        self.requested = requested
        self.compacted = compacted


class FutureRevisionError(StorageError):
    """The requested revision is newer than the store's current one."""

    def __init__(self, requested: int, current: int) -> None:
        super().__init__(f"revision {requested} is in the future (current: {current})")
        self.requested = requested
        self.current = current


class WatchClosedError(StorageError):
    """A watch ended without the caller asking (it fell behind, or the store closed)."""


class InvalidContinueError(StorageError):
    """A ``continue`` token that this store did not issue."""


class StorageUnavailableError(StorageError):
    """The backend cannot take the operation now (disk full, I/O error, unreachable)."""


class CorruptStoreError(StorageError):
    """The database file is damaged or not a pyk8s store; nothing was changed."""


@dataclass(frozen=True, slots=True)
class KeyValue:
    key: str
    value: bytes
    create_revision: int
    mod_revision: int


class EventType(enum.Enum):
    ADDED = "ADDED"
    MODIFIED = "MODIFIED"
    DELETED = "DELETED"


@dataclass(frozen=True, slots=True)
class Event:
    """One change. ``value`` is the new value, or for DELETED the last value;
    ``prev_value`` is the value before the change (None for ADDED)."""

    type: EventType
    key: str
    value: bytes
    prev_value: bytes | None
    revision: int
    create_revision: int


@dataclass(frozen=True, slots=True)
class ListResult:
    items: list[KeyValue]
    revision: int
    """The revision the whole list (and every later page of it) was read at."""
    continue_token: str | None
    """Opaque token for the next page, or None when this page is the last."""
    remaining: int | None = None
    """How many keys are left after this page, when the backend knows cheaply."""


@dataclass(frozen=True, slots=True)
class Preconditions:
    """Conditions checked against the stored object before an update or delete.

    ``uid`` is compared with ``metadata.uid`` of the stored JSON value,
    ``resource_version`` with its ``mod_revision``; a mismatch raises
    :class:`PreconditionError`.
    """

    uid: str | None = None
    resource_version: int | None = None


TryUpdate = Callable[[KeyValue], Awaitable[bytes | None]]
"""Gets the current value, returns the new one (None: leave it unchanged). May
be called again with a fresher value when another writer got there first; an
exception it raises aborts the update and propagates to the caller."""

ValidateDeletion = Callable[[KeyValue], Awaitable[None]]
"""Called with the current value before a delete; raise to refuse it."""


class Watch(Protocol):
    """An ordered stream of events. Iterating raises :class:`WatchClosedError`
    if the store cut the watcher off; ``close`` is idempotent."""

    def __aiter__(self) -> AsyncIterator[Event]: ...

    def progress(self) -> int:
        """A revision up to which every event under the prefix has been yielded (0 when
        some may still be on their way)."""
        ...

    async def close(self) -> None: ...


@runtime_checkable
class Interface(Protocol):
    """What the API server needs from a datastore."""

    async def get(self, key: str, *, revision: int = 0) -> KeyValue:
        """The value of ``key`` (at ``revision`` when > 0); KeyNotFoundError if absent."""
        ...

    async def list(
        self,
        prefix: str,
        *,
        limit: int = 0,
        continue_token: str | None = None,
        revision: int = 0,
    ) -> ListResult:
        """Keys under ``prefix`` in key order, at most ``limit`` (0: all).

        A ``continue_token`` from an earlier page resumes that listing at the
        revision of its first page (``revision`` must then be 0); TooOldError once
        that revision is compacted."""
        ...

    async def count(self, prefix: str) -> int:
        """How many keys exist under ``prefix`` now."""
        ...

    async def create(self, key: str, value: bytes) -> KeyValue:
        """Store a new key; KeyExistsError if it exists."""
        ...

    async def guaranteed_update(
        self,
        key: str,
        try_update: TryUpdate,
        *,
        preconditions: Preconditions | None = None,
        ignore_not_found: bool = False,
    ) -> KeyValue:
        """Read-modify-write with optimistic concurrency.

        Calls ``try_update`` with the current value and writes what it returns
        only if nobody wrote the key in between; otherwise re-reads and calls it
        again. ``preconditions`` are checked on every attempt. A missing key
        raises KeyNotFoundError, or with ``ignore_not_found`` calls
        ``try_update`` with an empty value (revisions 0) and creates the key."""
        ...

    async def delete(
        self,
        key: str,
        *,
        preconditions: Preconditions | None = None,
        validate_deletion: ValidateDeletion | None = None,
    ) -> KeyValue:
        """Delete ``key`` and return its last value; the returned ``mod_revision``
        is the revision of the delete itself."""
        ...

    def watch(self, prefix: str, *, from_revision: int = 0) -> Watch:
        """Every change under ``prefix`` after ``from_revision`` (0: from now)."""
        ...

    async def current_revision(self) -> int:
        """The revision of the newest write (0 for an empty store)."""
        ...

    async def compacted_revision(self) -> int:
        """The oldest revision still readable (0 when nothing was compacted)."""
        ...

    async def compact(self, revision: int) -> None:
        """Forget history older than ``revision``; current values are kept."""
        ...

    async def close(self) -> None:
        """Stop background work and release files and connections; idempotent."""
        ...
