"""Node selectors and node affinity matching, shared by several plugins.

Mirrors component-helpers ``scheduling/corev1/nodeaffinity/nodeaffinity.go``:
``NodeSelector`` (required terms, ORed; each term's expressions ANDed),
``PreferredSchedulingTerms`` (summed weights of matching terms) and
``RequiredNodeAffinity`` (``spec.nodeSelector`` and the required terms together).
A term that fails to parse, or has no requirements at all, matches no node; the
other terms still count, as upstream's lazy-error selector does.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

NodeTest = Callable[[Mapping[str, str], str], bool]


def _label_requirement(expr: Mapping[str, Any]) -> NodeTest | None:
    key = expr.get("key", "")
    op = expr.get("operator", "")
    values = [str(v) for v in expr.get("values") or ()]
    if not key:
        return None
    if op == "In" and values:
        vs = frozenset(values)
        return lambda labels, _name: labels.get(key) in vs
    if op == "NotIn" and values:
        vs = frozenset(values)
        return lambda labels, _name: labels.get(key) not in vs
    if op == "Exists" and not values:
        return lambda labels, _name: key in labels
    if op == "DoesNotExist" and not values:
        return lambda labels, _name: key not in labels
    if op in ("Gt", "Lt") and len(values) == 1:
        try:
            bound = int(values[0])
        except ValueError:
            return None
        greater = op == "Gt"

        def compare(labels: Mapping[str, str], _name: str) -> bool:
            raw = labels.get(key)
            if raw is None:
                return False
            try:
                actual = int(raw)
            except ValueError:
                return False
            return actual > bound if greater else actual < bound

        return compare
    return None


def _field_requirement(expr: Mapping[str, Any]) -> NodeTest | None:
    values = [str(v) for v in expr.get("values") or ()]
    if expr.get("key") != "metadata.name" or len(values) != 1:
        return None
    name = values[0]
    if expr.get("operator") == "In":
        return lambda _labels, node_name: node_name == name
    if expr.get("operator") == "NotIn":
        return lambda _labels, node_name: node_name != name
    return None


def compile_term(term: Mapping[str, Any]) -> list[NodeTest] | None:
    """The tests of one NodeSelectorTerm, or None when it matches no node."""
    exprs = term.get("matchExpressions") or ()
    fields = term.get("matchFields") or ()
    if not exprs and not fields:
        return None
    tests: list[NodeTest] = []
    for e in exprs:
        t = _label_requirement(e)
        if t is None:
            return None
        tests.append(t)
    for f in fields:
        t = _field_requirement(f)
        if t is None:
            return None
        tests.append(t)
    return tests


def _node_parts(node: Mapping[str, Any]) -> tuple[Mapping[str, str], str]:
    meta = node.get("metadata") or {}
    return meta.get("labels") or {}, meta.get("name", "")


class NodeSelector:
    """A compiled ``v1.NodeSelector``: the node must match one of the terms."""

    __slots__ = ("_terms",)

    def __init__(self, selector: Mapping[str, Any]) -> None:
        self._terms = [
            t
            for t in (compile_term(term) for term in selector.get("nodeSelectorTerms") or ())
            if t is not None
        ]

    def match(self, node: Mapping[str, Any]) -> bool:
        labels, name = _node_parts(node)
        return any(all(test(labels, name) for test in term) for term in self._terms)


class PreferredSchedulingTerms:
    """Compiled preferred terms; ``score(node)`` sums the weights of matching terms."""

    __slots__ = ("_terms",)

    def __init__(self, terms: Sequence[Mapping[str, Any]]) -> None:
        self._terms: list[tuple[int, list[NodeTest]]] = []
        for term in terms:
            weight = int(term.get("weight") or 0)
            tests = compile_term(term.get("preference") or {})
            if weight and tests is not None:
                self._terms.append((weight, tests))

    def __bool__(self) -> bool:
        return bool(self._terms)

    def score(self, node: Mapping[str, Any]) -> int:
        labels, name = _node_parts(node)
        return sum(w for w, tests in self._terms if all(t(labels, name) for t in tests))


class RequiredNodeAffinity:
    """``spec.nodeSelector`` and the required node affinity of a pod, matched together."""

    __slots__ = ("_labels", "_selector")

    def __init__(self, pod: Mapping[str, Any]) -> None:
        spec = pod.get("spec") or {}
        self._labels: Mapping[str, str] = spec.get("nodeSelector") or {}
        required = (
            ((spec.get("affinity") or {}).get("nodeAffinity") or {}).get(
                "requiredDuringSchedulingIgnoredDuringExecution"
            )
            if spec.get("affinity")
            else None
        )
        self._selector = NodeSelector(required) if required is not None else None

    def match(self, node: Mapping[str, Any]) -> bool:
        if self._labels:
            labels = (node.get("metadata") or {}).get("labels") or {}
            for k, v in self._labels.items():
                if labels.get(k) != v:
                    return False
        return self._selector is None or self._selector.match(node)
