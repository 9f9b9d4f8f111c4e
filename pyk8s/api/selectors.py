"""Label and field selectors: parse the query-string forms and match objects.

Mirrors apimachinery ``pkg/labels/selector.go`` (``Parse``: ``=``, ``==``, ``!=``,
``in``, ``notin``, exists, ``!`` does-not-exist, ``>`` and ``<``),
``pkg/fields/selector.go`` (``ParseSelector``: ``=``, ``==``, ``!=`` with ``\\``
escapes) and ``metav1.LabelSelectorAsSelector`` for the structured form.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pyk8s.api import meta


class SelectorError(ValueError):
    """A selector string that does not parse; the API answers 400."""


@dataclass(frozen=True, slots=True)
class Requirement:
    key: str
    op: str  # "=", "!=", "in", "notin", "exists", "!", "gt", "lt"
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        has = self.key in labels
        value = labels.get(self.key)
        if self.op in ("=", "in"):
            return has and value in self.values
        if self.op in ("!=", "notin"):
            return not has or value not in self.values
        if self.op == "exists":
            return has
        if self.op == "!":
            return not has
        if not has or value is None:
            return False
        try:
            actual = int(value)
        except ValueError:
            return False
        bound = int(self.values[0])
        return actual > bound if self.op == "gt" else actual < bound


@dataclass(frozen=True, slots=True)
class LabelSelector:
    requirements: tuple[Requirement, ...] = ()
    nothing: bool = False
    """A selector that matches no object (an invalid structured selector)."""

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        if self.nothing:
            return False
        labels = labels or {}
        return all(r.matches(labels) for r in self.requirements)

    @property
    def empty(self) -> bool:
        return not self.requirements and not self.nothing


_TOKEN = re.compile(r"\s*(\(|\)|,|==|=|!=|!|>|<|[^\s(),=!<>]+)")


def _tokenize(s: str) -> list[str]:
    out: list[str] = []
    pos = 0
    while pos < len(s):
        m = _TOKEN.match(s, pos)
        if not m:
            if s[pos:].strip() == "":
                break
            raise SelectorError(f"unable to parse requirement: unexpected {s[pos:]!r}")
        out.append(m.group(1))
        pos = m.end()
    return out


def _check_key(key: str) -> None:
    errs = meta.qualified_name(key)
    if errs:
        raise SelectorError(
            f'unable to parse requirement: key: Invalid value: "{key}": {"; ".join(errs)}'
        )


def _check_value(value: str) -> None:
    errs = meta.label_value(value)
    if errs:
        raise SelectorError(
            f'unable to parse requirement: values[0]: Invalid value: "{value}": ' + "; ".join(errs)
        )


def parse_labels(s: str) -> LabelSelector:
    """Parse ``app=web,tier in (a,b),!legacy``; an empty string selects everything."""
    tokens = _tokenize(s)
    reqs: list[Requirement] = []
    i = 0

    def peek() -> str | None:
        return tokens[i] if i < len(tokens) else None

    while i < len(tokens):
        tok = tokens[i]
        if tok == "!":
            i += 1
            key = peek()
            if key is None or key in ("(", ")", ",", "=", "==", "!=", "!"):
                raise SelectorError("unable to parse requirement: found '!', expected: identifier")
            _check_key(key)
            reqs.append(Requirement(key, "!"))
            i += 1
        else:
            key = tok
            if key in ("(", ")", ",", "=", "==", "!=", ">", "<"):
                raise SelectorError(
                    f"unable to parse requirement: found '{key}', expected: !, identifier, or "
                    "'end of string'"
                )
            _check_key(key)
            i += 1
            op = peek()
            if op is None or op == ",":
                reqs.append(Requirement(key, "exists"))
            elif op in ("=", "==", "!="):
                i += 1
                value = peek()
                if value is None or value == ",":
                    value = ""
                else:
                    i += 1
                _check_value(value)
                reqs.append(Requirement(key, "!=" if op == "!=" else "=", (value,)))
            elif op in (">", "<"):
                i += 1
                value = peek()
                if value is None or not re.fullmatch(r"-?\d+", value):
                    raise SelectorError(
                        f"unable to parse requirement: for 'Gt', 'Lt' operators, the value "
                        f"must be an integer, got {value!r}"
                    )
                i += 1
                reqs.append(Requirement(key, "gt" if op == ">" else "lt", (value,)))
            elif op in ("in", "notin"):
                i += 1
                if peek() != "(":
                    raise SelectorError(
                        f"unable to parse requirement: found '{peek()}', expected: '('"
                    )
                i += 1
                values: list[str] = []
                while True:
                    t = peek()
                    if t is None:
                        raise SelectorError("unable to parse requirement: expected ')'")
                    if t == ")":
                        i += 1
                        break
                    if t == ",":
                        if not values or tokens[i - 1] == ",":
                            values.append("")
                        i += 1
                        continue
                    _check_value(t)
                    values.append(t)
                    i += 1
                if op == "in" and not values:
                    raise SelectorError(
                        "unable to parse requirement: for 'in', 'notin' operators, values set "
                        "can't be empty"
                    )
                reqs.append(Requirement(key, op, tuple(values)))
            else:
                raise SelectorError(
                    f"unable to parse requirement: found '{op}', expected: in, notin, =, ==, "
                    "!=, gt, lt"
                )
        nxt = peek()
        if nxt is None:
            break
        if nxt != ",":
            raise SelectorError(f"unable to parse requirement: found '{nxt}', expected: ','")
        i += 1
    return LabelSelector(tuple(reqs))


def from_label_selector(sel: Mapping[str, Any] | None) -> LabelSelector:
    """``metav1.LabelSelectorAsSelector``: None selects nothing, ``{}`` everything."""
    if sel is None:
        return LabelSelector(nothing=True)
    reqs: list[Requirement] = [
        Requirement(k, "=", (str(v),)) for k, v in (sel.get("matchLabels") or {}).items()
    ]
    for expr in sel.get("matchExpressions") or []:
        op = expr.get("operator")
        values = tuple(expr.get("values") or ())
        key = expr.get("key", "")
        if op == "In":
            reqs.append(Requirement(key, "in", values))
        elif op == "NotIn":
            reqs.append(Requirement(key, "notin", values))
        elif op == "Exists":
            reqs.append(Requirement(key, "exists"))
        elif op == "DoesNotExist":
            reqs.append(Requirement(key, "!"))
        else:
            raise SelectorError(f'"{op}" is not a valid label selector operator')
    return LabelSelector(tuple(reqs))


# -- field selectors


@dataclass(frozen=True, slots=True)
class FieldRequirement:
    field: str
    op: str  # "=" or "!="
    value: str


@dataclass(frozen=True, slots=True)
class FieldSelector:
    requirements: tuple[FieldRequirement, ...] = ()

    def matches(self, fields: Mapping[str, str]) -> bool:
        for r in self.requirements:
            actual = fields.get(r.field, "")
            if (actual == r.value) != (r.op == "="):
                return False
        return True

    @property
    def empty(self) -> bool:
        return not self.requirements

    def exact(self, field: str) -> str | None:
        """The value an ``=`` requirement pins ``field`` to, if any (index use)."""
        for r in self.requirements:
            if r.field == field and r.op == "=":
                return r.value
        return None


def _split_unescaped(s: str, sep: str) -> list[str]:
    parts: list[str] = []
    cur: list[str] = []
    i = 0
    while i < len(s):
        c = s[i]
        if c == "\\" and i + 1 < len(s):
            cur.append(s[i : i + 2])
            i += 2
            continue
        if c == sep:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(c)
        i += 1
    parts.append("".join(cur))
    return parts


def _unescape(s: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(s):
        c = s[i]
        if c == "\\":
            if i + 1 >= len(s) or s[i + 1] not in "\\,=!":
                raise SelectorError(f"invalid field selector: invalid escape sequence in {s!r}")
            out.append(s[i + 1])
            i += 2
            continue
        if c in ",=":
            raise SelectorError(f"invalid field selector: unescaped {c!r} in {s!r}")
        out.append(c)
        i += 1
    return "".join(out)


def parse_fields(s: str) -> FieldSelector:
    reqs: list[FieldRequirement] = []
    if not s.strip():
        return FieldSelector()
    for part in _split_unescaped(s, ","):
        if not part:
            continue
        for op in ("!=", "==", "="):
            idx = _find_unescaped(part, op)
            if idx >= 0:
                field = part[:idx].strip()
                value = _unescape(part[idx + len(op) :])
                reqs.append(FieldRequirement(field, "!=" if op == "!=" else "=", value))
                break
        else:
            raise SelectorError(f"invalid selector: '{s}'; can't understand '{part}'")
    return FieldSelector(tuple(reqs))


def _find_unescaped(s: str, op: str) -> int:
    i = 0
    while i < len(s):
        if s[i] == "\\":
            i += 2
            continue
        if s.startswith(op, i):
            return i
        i += 1
    return -1


def field_value(obj: Mapping[str, Any], path: str) -> str:
    """The string form of a dotted field, as upstream's field sets show it."""
    cur: Any = obj
    for part in path.split("."):
        if not isinstance(cur, Mapping):
            return ""
        cur = cur.get(part)
    if cur is None:
        return ""
    if isinstance(cur, bool):
        return "true" if cur else "false"
    if isinstance(cur, list):
        return ",".join(str(x.get("ip", "")) if isinstance(x, Mapping) else str(x) for x in cur)
    return str(cur)
