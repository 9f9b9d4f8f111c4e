"""The words upstream uses when a request body does not decode.

Mirrors what a Go API server says: ``encoding/json``'s scanner errors (``invalid character
'x' looking for beginning of value``, ``unexpected end of JSON input``) behind the JSON
serializer's ``couldn't get version/kind; json parse error:`` (apimachinery
``runtime/serializer/json/meta.go``), go-yaml's ``yaml: line N: ...`` (through
``sigs.k8s.io/yaml.YAMLToJSON``), and the create/update handlers' ``transformDecodeError``
(``endpoints/handlers/rest.go``): ``the object provided is unrecognized (must be of type
ConfigMap): <error> (<the first 30 bytes>)``.
"""

from __future__ import annotations

import json
from typing import Any

_GO_TYPE_OF_FINDKIND = (
    'struct { APIVersion string "json:\\"apiVersion,omitempty\\""; '
    'Kind string "json:\\"kind,omitempty\\"" }'
)


def _quote_char(c: str) -> str:
    """Go's ``encoding/json`` ``quoteChar``."""
    if c == "'":
        return "'\\''"
    if c == '"':
        return "'\"'"
    escapes = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t",
               "\v": "\\v", "\\": "\\\\"}  # fmt: skip
    if c in escapes:
        return f"'{escapes[c]}'"
    if ord(c) < 0x20 or ord(c) == 0x7F:
        return f"'\\x{ord(c):02x}'"
    if not c.isprintable():
        return f"'\\u{ord(c):04x}'"
    return f"'{c}'"


def _container_at(doc: str, pos: int) -> str:
    """``{`` or ``[``: what encloses ``pos`` (strings skipped)."""
    stack: list[str] = []
    in_string = escaped = False
    for ch in doc[:pos]:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "{[":
            stack.append(ch)
        elif ch in "}]" and stack:
            stack.pop()
    return stack[-1] if stack else ""


def json_syntax_error(body: bytes) -> str | None:
    """What Go's ``json.Unmarshal`` says about ``body``'s syntax; None if it is valid."""
    doc = body.decode("utf-8", errors="replace")
    try:
        json.loads(doc)
    except json.JSONDecodeError as e:
        pos = e.pos
        msg = e.msg
        if msg.startswith("Unterminated string") or pos >= len(doc.rstrip(" \t\r\n")):
            return "unexpected end of JSON input"
        ch = _quote_char(doc[pos])
        if msg.startswith("Expecting ':'"):
            return f"invalid character {ch} after object key"
        if msg.startswith("Expecting ','"):
            where = (
                "after array element"
                if _container_at(doc, pos) == "["
                else ("after object key:value pair")
            )
            return f"invalid character {ch} {where}"
        if msg.startswith("Expecting property name"):
            return f"invalid character {ch} looking for beginning of object key string"
        if msg.startswith("Extra data"):
            return f"invalid character {ch} after top-level value"
        if msg.startswith("Invalid control character"):
            return f"invalid character {ch} in string literal"
        if msg.startswith("Invalid \\"):
            return f"invalid character {ch} in string escape code"
        return f"invalid character {ch} looking for beginning of value"
    except (RecursionError, ValueError):
        return "exceeded max depth"
    return None


def json_error(body: bytes, value: Any = None, *, syntax: bool = True) -> str:
    """The JSON serializer's error for a body that is not a JSON object: a syntax error, or
    a value the ``apiVersion``/``kind`` probe cannot unmarshal into."""
    if syntax:
        err = json_syntax_error(body) or "unexpected end of JSON input"
    else:
        go = {list: "array", str: "string", bool: "bool", int: "number", float: "number"}
        err = f"json: cannot unmarshal {go.get(type(value), 'value')} into Go value of type " + (
            _GO_TYPE_OF_FINDKIND
        )
    return f"couldn't get version/kind; json parse error: {err}"


def yaml_error(e: Exception) -> str:
    """go-yaml's ``yaml: line N: <problem>`` for a PyYAML error. go-yaml prints the 0-based
    line of the problem for parser errors and the 1-based one for scanner errors (its
    ``parser.fail``), and the context's line when the problem has none."""
    import yaml

    problem = getattr(e, "problem", None) or str(e)
    mark = getattr(e, "problem_mark", None)
    context = getattr(e, "context_mark", None)
    line = 0
    if mark is not None and mark.line != 0:
        line = mark.line + (1 if isinstance(e, yaml.scanner.ScannerError) else 0)
    elif context is not None:
        line = context.line
    return f"yaml: line {line}: {problem}" if line else f"yaml: {problem}"


def summarize(body: bytes, limit: int = 30) -> str:
    """``summarizeData``: the body as text when it looks like JSON, else hex; cut at
    ``limit`` bytes."""
    if not body:
        return "<empty>"
    if body[:1] == b"{":
        if len(body) > limit:
            return body[:limit].decode("utf-8", errors="replace") + " ..."
        return body.decode("utf-8", errors="replace")
    if len(body) > limit:
        return body[:limit].hex() + " ..."
    return body.hex()


def unrecognized(kind: str, error: str, body: bytes) -> str:
    """``transformDecodeError`` when the body named no kind."""
    return (
        f"the object provided is unrecognized (must be of type {kind}): {error} ({summarize(body)})"
    )
