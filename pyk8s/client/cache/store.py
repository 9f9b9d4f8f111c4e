"""The local cache an informer fills: objects by key, plus secondary indices.

Mirrors k8s.io/client-go/tools/cache/store.go (``Store``, ``MetaNamespaceKeyFunc``,
``SplitMetaNamespaceKey``), ``thread_safe_store.go`` (the map and its indices)
and the ``Indexer`` interface of ``index.go``. There are no locks: everything
runs on one event loop, and the store is a plain dict.

Objects are stored read-only (:mod:`pyk8s.client.cache.frozen`): whatever the
store hands out is shared with every other reader, so copy before changing.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pyk8s.client.cache import frozen
from pyk8s.client.cache import index as index_

Object = Mapping[str, Any]
KeyFunc = Callable[[Any], str]


@dataclass(frozen=True, slots=True)
class DeletedFinalStateUnknown:
    """Handed to ``on_delete`` when an object vanished while the watch was down.

    ``obj`` is the last state the cache knew, which may be stale (client-go's
    tombstone of the same name).
    """

    key: str
    obj: Object


def meta_namespace_key(obj: Object) -> str:
    """``namespace/name`` for namespaced objects, ``name`` otherwise."""
    meta = obj.get("metadata") or {}
    name = meta.get("name")
    if not name:
        raise ValueError("object has no metadata.name")
    namespace = meta.get("namespace")
    return f"{namespace}/{name}" if namespace else str(name)


def deletion_handling_key(obj: Object | DeletedFinalStateUnknown) -> str:
    """:func:`meta_namespace_key` that also accepts a tombstone."""
    if isinstance(obj, DeletedFinalStateUnknown):
        return obj.key
    return meta_namespace_key(obj)


def split_key(key: str) -> tuple[str, str]:
    """``("ns", "name")`` from ``"ns/name"``, ``("", "name")`` from ``"name"``."""
    parts = key.split("/")
    if len(parts) == 1:
        return "", parts[0]
    if len(parts) == 2:
        return parts[0], parts[1]
    raise ValueError(f"unexpected key format: {key!r}")


class Store:
    """An indexed, read-only-object cache (client-go's ``Indexer``)."""

    def __init__(
        self,
        key_func: KeyFunc = deletion_handling_key,
        indexers: index_.Indexers | None = None,
    ) -> None:
        self.key_func = key_func
        self._items: dict[str, Object] = {}
        self._indices = index_.Indices(indexers)
        self.resource_version = ""
        """The resourceVersion the store is known to reflect (set by the reflector)."""

    # -- writes -----------------------------------------------------------------

    def add(self, obj: Object) -> Object:
        """Insert or replace ``obj``; returns the read-only object now stored."""
        stored: Object = frozen.freeze(obj)
        key = self.key_func(stored)
        old = self._items.get(key)
        self._items[key] = stored
        self._indices.update(key, old, stored)
        return stored

    update = add

    def delete(self, obj: Object | DeletedFinalStateUnknown) -> Object | None:
        """Remove the object with ``obj``'s key; returns what was stored, if anything."""
        return self.delete_key(self.key_func(obj))

    def delete_key(self, key: str) -> Object | None:
        old = self._items.pop(key, None)
        if old is not None:
            self._indices.update(key, old, None)
        return old

    def replace(self, objs: Iterable[Object], resource_version: str = "") -> None:
        """Make the store hold exactly ``objs`` (after a list)."""
        items: dict[str, Object] = {}
        for obj in objs:
            stored: Object = frozen.freeze(obj)
            items[self.key_func(stored)] = stored
        self._items = items
        self._indices.clear()
        for key, obj in items.items():
            self._indices.update(key, None, obj)
        self.resource_version = resource_version

    def update_resource_version(self, resource_version: str) -> None:
        """A bookmark or event moved the version the store reflects (``ResourceVersionUpdater``)."""
        self.resource_version = resource_version

    # -- reads ------------------------------------------------------------------

    def get(self, obj: Object) -> Object | None:
        return self._items.get(self.key_func(obj))

    def get_by_key(self, key: str) -> Object | None:
        return self._items.get(key)

    def list(self) -> builtins.list[Object]:
        return list(self._items.values())

    def list_keys(self) -> builtins.list[str]:
        return list(self._items)

    def items(self) -> builtins.list[tuple[str, Object]]:
        return list(self._items.items())

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: object) -> bool:
        return key in self._items

    # -- indices ----------------------------------------------------------------

    def add_indexers(self, indexers: index_.Indexers) -> None:
        self._indices.add_indexers(indexers, self._items.items())

    @property
    def indexers(self) -> Mapping[str, index_.IndexFunc]:
        return self._indices.indexers

    def index_keys(self, index_name: str, value: str) -> builtins.list[str]:
        return sorted(self._indices.keys(index_name, value))

    def by_index(self, index_name: str, value: str) -> builtins.list[Object]:
        """Objects whose ``index_name`` index contains ``value``."""
        return [self._items[k] for k in self._indices.keys(index_name, value)]

    def index(self, index_name: str, obj: Object) -> builtins.list[Object]:
        """Objects sharing any ``index_name`` value with ``obj``."""
        fn = self._indices.indexers.get(index_name)
        if fn is None:
            raise KeyError(f"index {index_name!r} does not exist")
        keys: set[str] = set()
        for value in fn(obj):
            keys |= self._indices.keys(index_name, value)
        return [self._items[k] for k in keys]

    def list_index_func_values(self, index_name: str) -> builtins.list[str]:
        return self._indices.values(index_name)
