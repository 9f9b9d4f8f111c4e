"""Read-only objects for informer caches: a mutation fails loudly instead of corrupting the cache.

client-go hands out pointers into its cache and relies on the rule "never mutate
objects from a lister" (``replica_set.go``: "filteredPods are pointing to objects
from cache - if you need to modify them, you need to copy it first"). Here the
rule is enforced: :func:`freeze` turns a decoded JSON object into
:class:`FrozenDict` / :class:`FrozenList`, subclasses of ``dict`` and ``list``
(so reading code, ``isinstance`` checks and ``orjson.dumps`` work unchanged)
whose mutating methods raise :class:`TypeError`.

To change an object, copy it: ``copy.deepcopy(obj)`` (or :func:`thaw`) returns
plain, mutable ``dict``/``list`` values all the way down.

Cost, measured by ``bench/client_cache.py`` (figures in bench/RESULTS.md): about
15-25 us for a 1.5 kB Pod, some 3-4x the JSON decode and under half a ``deepcopy``;
paid once per watch event, not per read.
"""

from __future__ import annotations

from typing import Any, NoReturn


def _refuse(self: object, *args: Any, **kwargs: Any) -> NoReturn:
    raise TypeError(
        f"{type(self).__name__} is read-only: objects from an informer cache are shared;"
        " copy.deepcopy() the object before changing it"
    )


class FrozenDict(dict[str, Any]):
    """A ``dict`` whose mutating methods raise ``TypeError``."""

    __slots__ = ()

    __setitem__ = _refuse
    __delitem__ = _refuse
    __ior__ = _refuse
    clear = _refuse
    pop = _refuse
    popitem = _refuse
    setdefault = _refuse
    update = _refuse

    def __copy__(self) -> dict[str, Any]:
        return dict(self)

    def __deepcopy__(self, memo: dict[int, Any]) -> dict[str, Any]:
        return thaw(self)  # type: ignore[no-any-return]

    def __reduce__(self) -> tuple[Any, ...]:
        return (dict, (thaw(self),))

    def __repr__(self) -> str:
        return f"FrozenDict({dict.__repr__(self)})"


class FrozenList(list[Any]):
    """A ``list`` whose mutating methods raise ``TypeError``."""

    __slots__ = ()

    __setitem__ = _refuse
    __delitem__ = _refuse
    __iadd__ = _refuse
    __imul__ = _refuse
    append = _refuse
    extend = _refuse
    insert = _refuse
    pop = _refuse
    remove = _refuse
    reverse = _refuse
    sort = _refuse
    clear = _refuse

    def __copy__(self) -> list[Any]:
        return list(self)

    def __deepcopy__(self, memo: dict[int, Any]) -> list[Any]:
        return thaw(self)  # type: ignore[no-any-return]

    def __reduce__(self) -> tuple[Any, ...]:
        return (list, (thaw(self),))

    def __repr__(self) -> str:
        return f"FrozenList({list.__repr__(self)})"


def freeze(value: Any) -> Any:
    """A read-only copy of a JSON value (already frozen parts are reused, not copied)."""
    cls = type(value)
    if cls is dict:
        out = {}
        for k, v in value.items():
            t = type(v)
            out[k] = freeze(v) if (t is dict or t is list) else v
        return FrozenDict(out)
    if cls is list:
        return FrozenList([freeze(v) if (type(v) is dict or type(v) is list) else v for v in value])
    return value


def thaw(value: Any) -> Any:
    """A plain, mutable deep copy of a (frozen or not) JSON value."""
    if isinstance(value, dict):
        return {k: thaw(v) for k, v in value.items()}
    if isinstance(value, list):
        return [thaw(v) for v in value]
    return value
