"""Deep copies of JSON-shaped objects (dicts, lists and immutable scalars).

What the API server copies on every write is a decoded body or a stored object:
nested dicts and lists of strings, numbers, booleans and None. ``copy.deepcopy``
handles any object graph (memo, aliasing, ``__deepcopy__``) and costs several
times as much; :func:`clone` rebuilds only the containers and shares the scalars,
which are immutable. A value of any other mutable type (a dict subclass, a set)
is handed to ``copy.deepcopy``, so nothing is ever shared that could change.
"""

from __future__ import annotations

import copy
from typing import TypeVar

T = TypeVar("T")

_SCALARS = frozenset((str, int, float, bool, type(None)))


def clone(value: T) -> T:
    """A deep copy of ``value``: new dicts and lists all the way down."""
    t = type(value)
    if t is dict:
        return {k: v if type(v) in _SCALARS else clone(v) for k, v in value.items()}  # type: ignore[attr-defined,return-value]
    if t is list:
        return [v if type(v) in _SCALARS else clone(v) for v in value]  # type: ignore[attr-defined,return-value]
    if t in _SCALARS:
        return value
    return copy.deepcopy(value)
