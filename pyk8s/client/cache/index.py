"""Secondary indices over a cache: index name -> indexed value -> set of object keys.

Mirrors k8s.io/client-go/tools/cache/index.go (``IndexFunc``, ``Indexers``,
``MetaNamespaceIndexFunc``) and the ``storeIndex`` bookkeeping of
``thread_safe_store.go`` (``updateSingleIndex``: drop the old object's values,
add the new object's, forget empty buckets).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

Object = Mapping[str, Any]
IndexFunc = Callable[[Object], list[str]]
Indexers = Mapping[str, IndexFunc]

NAMESPACE = "namespace"
"""The index every namespaced informer has (client-go ``NamespaceIndex``)."""


def namespace_index_func(obj: Object) -> list[str]:
    """Index by ``metadata.namespace`` (client-go ``MetaNamespaceIndexFunc``)."""
    return [obj.get("metadata", {}).get("namespace") or ""]


class Indices:
    """The buckets of every index; the store calls :meth:`update` on each change."""

    def __init__(self, indexers: Indexers | None = None) -> None:
        self.indexers: dict[str, IndexFunc] = dict(indexers or {})
        self._buckets: dict[str, dict[str, set[str]]] = {name: {} for name in self.indexers}

    def add_indexers(self, indexers: Indexers, items: Iterable[tuple[str, Object]]) -> None:
        """Add indices, filling them from the objects the store already holds."""
        clash = set(indexers) & set(self.indexers)
        if clash:
            raise ValueError(f"indexer conflict: {sorted(clash)}")
        self.indexers.update(indexers)
        for name in indexers:
            self._buckets[name] = {}
        for key, obj in items:
            for name, fn in indexers.items():
                self._update_one(name, fn, key, None, obj)

    def update(self, key: str, old: Object | None, new: Object | None) -> None:
        for name, fn in self.indexers.items():
            self._update_one(name, fn, key, old, new)

    def _update_one(
        self, name: str, fn: IndexFunc, key: str, old: Object | None, new: Object | None
    ) -> None:
        old_values = fn(old) if old is not None else []
        new_values = fn(new) if new is not None else []
        if old_values == new_values:
            return  # the common case (an update that does not move the object)
        buckets = self._buckets[name]
        for value in old_values:
            keys = buckets.get(value)
            if keys is not None:
                keys.discard(key)
                if not keys:
                    del buckets[value]
        for value in new_values:
            buckets.setdefault(value, set()).add(key)

    def keys(self, name: str, value: str) -> set[str]:
        """The keys of objects whose ``name`` index contains ``value``."""
        buckets = self._bucket_map(name)
        return set(buckets.get(value, ()))

    def values(self, name: str) -> list[str]:
        """Every value the ``name`` index currently has."""
        return list(self._bucket_map(name))

    def _bucket_map(self, name: str) -> dict[str, set[str]]:
        try:
            return self._buckets[name]
        except KeyError:
            raise KeyError(f"index {name!r} does not exist") from None

    def clear(self) -> None:
        for name in self._buckets:
            self._buckets[name] = {}
