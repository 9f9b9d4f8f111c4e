"""Label selectors as the scheduler needs them: compiled once, matched many times.

Mirrors apimachinery ``metav1.LabelSelectorAsSelector`` and ``labels.SelectorFromSet``
(``pkg/apis/meta/v1/helpers.go``, ``pkg/labels/selector.go``). A ``None`` selector
matches nothing, an empty one matches everything, and an invalid one (unknown
operator, ``In`` without values) matches nothing, as the scheduler treats
parse errors. The scheduler keeps its own compiled form because it matches
selectors in its innermost loops (inter-pod affinity, topology spread).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

# One requirement: (key, operator, values). Operators: in, notin, exists, !.
Requirement = tuple[str, str, frozenset[str]]


class LabelSelector:
    """A compiled label selector; ``matches(labels)`` is all it does."""

    __slots__ = ("_nothing", "requirements")

    def __init__(self, requirements: Iterable[Requirement] = (), *, nothing: bool = False) -> None:
        self.requirements: tuple[Requirement, ...] = tuple(requirements)
        self._nothing = nothing

    @property
    def empty(self) -> bool:
        """True for the selector that matches everything (``Selector.Empty()``)."""
        return not self._nothing and not self.requirements

    @property
    def nothing(self) -> bool:
        return self._nothing

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        if self._nothing:
            return False
        if not self.requirements:
            return True
        labels = labels or {}
        for key, op, values in self.requirements:
            if op == "in":
                v = labels.get(key)
                if v is None or v not in values:
                    return False
            elif op == "notin":
                v = labels.get(key)
                if v is not None and v in values:
                    return False
            elif op == "exists":
                if key not in labels:
                    return False
            elif key in labels:  # "!": does not exist
                return False
        return True

    def add(self, *requirements: Requirement) -> LabelSelector:
        """A new selector with more requirements (``Selector.Add``)."""
        if self._nothing:
            return self
        return LabelSelector(self.requirements + requirements)

    def __repr__(self) -> str:
        if self._nothing:
            return "LabelSelector(<nothing>)"
        return f"LabelSelector({list(self.requirements)!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, LabelSelector):
            return NotImplemented
        return self._nothing == other._nothing and set(self.requirements) == set(other.requirements)

    def __hash__(self) -> int:
        return hash((self._nothing, frozenset(self.requirements)))


NOTHING = LabelSelector(nothing=True)
EVERYTHING = LabelSelector()

_OPERATORS = {"In": "in", "NotIn": "notin", "Exists": "exists", "DoesNotExist": "!"}


def from_label_selector(selector: Mapping[str, Any] | None) -> LabelSelector:
    """``metav1.LabelSelectorAsSelector``: None → nothing, {} → everything."""
    if selector is None:
        return NOTHING
    reqs: list[Requirement] = []
    for key, val in sorted((selector.get("matchLabels") or {}).items()):
        reqs.append((key, "in", frozenset([str(val)])))
    for expr in selector.get("matchExpressions") or ():
        op = _OPERATORS.get(expr.get("operator", ""))
        values = frozenset(str(v) for v in expr.get("values") or ())
        if op is None or not expr.get("key"):
            return NOTHING
        if op in ("in", "notin") and not values:
            return NOTHING
        if op in ("exists", "!") and values:
            return NOTHING
        reqs.append((expr["key"], op, values))
    return LabelSelector(reqs)


def from_set(labels: Mapping[str, str] | None) -> LabelSelector:
    """``labels.SelectorFromSet``: every label must be present with that value."""
    return LabelSelector((k, "in", frozenset([v])) for k, v in sorted((labels or {}).items()))
