"""Server-side Table rows for custom resources from ``additionalPrinterColumns``.

Mirrors ``apiextensions-apiserver/pkg/registry/customresource/tableconvertor``
(Name first, then one cell per column found by its JSONPath: strings as the
path prints them, integer/number/boolean as JSON values, ``date`` as an age)
and ``customresource_handler.go`` ``serveDefaultColumnsIfEmpty`` (no columns:
an ``Age`` column). The JSONPath subset is what CRD columns use: fields,
``['key']``, indexes, ``[*]`` and ``[?(@.path=="value")]`` filters.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

from pyk8s.apiserver.printers import table

Obj = dict[str, Any]

DEFAULT_COLUMNS = [
    {
        "name": "Age",
        "type": "date",
        "jsonPath": ".metadata.creationTimestamp",
        "description": "CreationTimestamp is a timestamp representing the server time when "
        "this object was created. It is not guaranteed to be set in happens-before order across "
        "separate operations. Clients may not set this value. It is represented in RFC3339 form "
        "and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: "
        "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md"
        "#metadata",
    }
]
NAME_DESCRIPTION = (
    "Name must be unique within a namespace. Is required when creating resources, although "
    "some resources may allow a client to request the generation of an appropriate name "
    "automatically. Name is primarily intended for creation idempotence and configuration "
    "definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/"
    "working-with-objects/names#names"
)

_STEP = re.compile(
    r"""\.(?P<field>[A-Za-z0-9_\-$@]+)
      |\[\s*'(?P<quoted>[^']*)'\s*\]
      |\[\s*"(?P<dquoted>[^"]*)"\s*\]
      |\[\s*(?P<index>-?\d+)\s*\]
      |\[\s*(?P<star>\*)\s*\]
      |\[\s*\?\(\s*(?P<filter>[^\]]*?)\s*\)\s*\]""",
    re.VERBOSE,
)
_FILTER = re.compile(
    r"""^@(?P<path>(?:\.[A-Za-z0-9_\-]+)*)\s*(?:(?P<op>==|!=)\s*(?P<value>.+))?$"""
)


class JSONPathError(ValueError):
    pass


def parse(path: str) -> list[tuple[str, Any]]:
    """Steps of a JSONPath (``.a.b[0]``, optionally wrapped in ``{}``)."""
    p = path.strip()
    if p.startswith("{") and p.endswith("}"):
        p = p[1:-1].strip()
    if p.startswith("$"):
        p = p[1:]
    steps: list[tuple[str, Any]] = []
    pos = 0
    while pos < len(p):
        m = _STEP.match(p, pos)
        if m is None:
            raise JSONPathError(f"unrecognized character in JSONPath at {pos}: {p!r}")
        if m.group("field") is not None:
            steps.append(("field", m.group("field")))
        elif m.group("quoted") is not None:
            steps.append(("field", m.group("quoted")))
        elif m.group("dquoted") is not None:
            steps.append(("field", m.group("dquoted")))
        elif m.group("index") is not None:
            steps.append(("index", int(m.group("index"))))
        elif m.group("star") is not None:
            steps.append(("star", None))
        else:
            f = _FILTER.match(m.group("filter") or "")
            if f is None:
                raise JSONPathError(f"unsupported filter in JSONPath: {p!r}")
            sub = [s for s in (f.group("path") or "").split(".") if s]
            value: Any = None
            if f.group("value") is not None:
                raw = f.group("value").strip()
                if raw[:1] in ("'", '"'):
                    value = raw[1:-1]
                else:
                    try:
                        value = orjson.loads(raw)
                    except orjson.JSONDecodeError:
                        value = raw
            steps.append(("filter", (sub, f.group("op"), value)))
        pos = m.end()
    return steps


def find(obj: Any, steps: list[tuple[str, Any]]) -> list[Any]:
    current = [obj]
    for kind, arg in steps:
        nxt: list[Any] = []
        for v in current:
            if kind == "field":
                if isinstance(v, dict) and arg in v:
                    nxt.append(v[arg])
            elif kind == "index":
                if isinstance(v, list) and -len(v) <= arg < len(v):
                    nxt.append(v[arg])
            elif kind == "star":
                if isinstance(v, list):
                    nxt.extend(v)
                elif isinstance(v, dict):
                    nxt.extend(v.values())
            else:
                sub, op, want = arg
                if not isinstance(v, list):
                    continue
                for item in v:
                    got: Any = item
                    ok = True
                    for s in sub:
                        if isinstance(got, dict) and s in got:
                            got = got[s]
                        else:
                            ok = False
                            break
                    if op is None:
                        keep = ok
                    elif op == "==":
                        keep = ok and got == want
                    else:
                        keep = not ok or got != want
                    if keep:
                        nxt.append(item)
        current = nxt
    return current


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return orjson.dumps(value).decode()
    return orjson.dumps(value).decode()


def _cell(ctype: str, value: Any) -> Any:
    if ctype == "string":
        return _text(value)
    if ctype == "integer":
        if isinstance(value, bool):
            return None
        if isinstance(value, int):
            return value
        if isinstance(value, float):
            return int(value)
        return None
    if ctype == "number":
        if isinstance(value, bool):
            return None
        if isinstance(value, int | float):
            return value
        return None
    if ctype == "boolean":
        return value if isinstance(value, bool) else None
    if ctype == "date":
        if isinstance(value, str):
            return table.age(value) if value else "<unknown>"
        return None
    return None


def printer(columns: list[Obj]) -> table.Printer:
    """The Table printer of a CRD version's columns (the ``Age`` column when none)."""
    cols = columns or DEFAULT_COLUMNS
    defs = [table.Column("Name", format="name", description=NAME_DESCRIPTION)]
    compiled: list[tuple[str, list[tuple[str, Any]] | None]] = []
    for c in cols:
        defs.append(
            table.Column(
                str(c.get("name", "")),
                type=str(c.get("type", "string")),
                description=str(c.get("description", "")),
                priority=int(c.get("priority") or 0),
                format=str(c.get("format", "")),
            )
        )
        try:
            steps: list[tuple[str, Any]] | None = parse(str(c.get("jsonPath", "")))
        except JSONPathError:
            steps = None
        compiled.append((str(c.get("type", "string")), steps))

    def row(obj: Obj) -> list[Any]:
        cells: list[Any] = [table.name_of(obj)]
        for ctype, steps in compiled:
            found = find(obj, steps) if steps is not None else []
            cells.append(_cell(ctype, found[0]) if found else None)
        return cells

    return table.Printer(tuple(defs), row)
