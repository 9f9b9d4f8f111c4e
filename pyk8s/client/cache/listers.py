"""Listers: typed, read-only views of an informer's cache for controllers.

Mirrors k8s.io/client-go/tools/cache/listers.go (``ListAll``,
``ListAllByNamespace``, ``GenericLister``, ``GenericNamespaceLister``): list by
label selector, per namespace through the namespace index, and ``get`` that
raises NotFound like the API would.

Everything a lister returns is shared with the cache and read-only: copy it
(``copy.deepcopy``) before changing it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from pyk8s.api import errors
from pyk8s.client.cache import index as index_
from pyk8s.client.cache import store as store_

Object = Mapping[str, Any]


class Selector(Protocol):
    """Anything that can say whether a label set matches (``labels.Selector``)."""

    def matches(self, labels: Mapping[str, str]) -> bool: ...


LabelSelector = Selector | Mapping[str, str] | None
"""A selector object, a mapping meaning "all these labels equal", or ``None`` (everything)."""


def _matcher(selector: LabelSelector) -> Selector | None:
    if selector is None:
        return None
    if isinstance(selector, Mapping):
        return _Equals(selector)
    return selector


class _Equals:
    def __init__(self, wanted: Mapping[str, str]) -> None:
        self.wanted = dict(wanted)

    def matches(self, labels: Mapping[str, str]) -> bool:
        return all(labels.get(k) == v for k, v in self.wanted.items())


def _labels(obj: Object) -> Mapping[str, str]:
    labels: Mapping[str, str] = (obj.get("metadata") or {}).get("labels") or {}
    return labels


def _select(objs: list[Object], selector: LabelSelector) -> list[Object]:
    matcher = _matcher(selector)
    if matcher is None:
        return objs
    return [o for o in objs if matcher.matches(_labels(o))]


class Lister:
    """Reads one resource's cache; ``resource``/``group`` name it in NotFound errors."""

    def __init__(self, store: store_.Store, resource: str, group: str = "") -> None:
        self.store = store
        self.resource = resource
        self.group = group

    def list(self, selector: LabelSelector = None) -> list[Object]:
        """Every cached object (all namespaces) whose labels match."""
        return _select(self.store.list(), selector)

    def get(self, name: str) -> Object:
        """A cluster-scoped object by name."""
        obj = self.store.get_by_key(name)
        if obj is None:
            raise errors.NotFound.for_object(self.resource, self.group, name)
        return obj

    def namespace(self, namespace: str) -> NamespaceLister:
        return NamespaceLister(self, namespace)


class NamespaceLister:
    """A :class:`Lister` restricted to one namespace."""

    def __init__(self, lister: Lister, namespace: str) -> None:
        self.lister = lister
        self.namespace = namespace

    def list(self, selector: LabelSelector = None) -> list[Object]:
        store = self.lister.store
        if index_.NAMESPACE in store.indexers:
            objs = store.by_index(index_.NAMESPACE, self.namespace)
        else:
            objs = [
                o
                for o in store.list()
                if ((o.get("metadata") or {}).get("namespace") or "") == self.namespace
            ]
        return _select(objs, selector)

    def get(self, name: str) -> Object:
        key = f"{self.namespace}/{name}" if self.namespace else name
        obj = self.lister.store.get_by_key(key)
        if obj is None:
            raise errors.NotFound.for_object(self.lister.resource, self.lister.group, name)
        return obj
