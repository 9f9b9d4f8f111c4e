"""The ``enum`` values of the built-in API types, derived from k8s.io/api's Go sources.

kube-apiserver's OpenAPI documents list the values of every field whose Go type is a
string type marked ``// +enum`` (``k8s.io/kube-openapi/pkg/generators/enum.go``): an
``enum`` array (sorted) and, appended to the field's description, a paragraph

    Possible enum values:
     - `"Always"` means that kubelet always attempts to pull the latest image. ...

made of the doc comments of that type's constants (the constant's name dropped from the
front, whitespace collapsed, lines sorted), which ``kubectl explain`` prints as an ``ENUM:``
block. The schemas we ship (``kubernetes-validate``) carry neither, and upstream's
checked-in ``api/openapi-spec`` snapshots are made with ``OpenAPIEnums=false``, so they are
derived here from the Go sources of k8s.io/api (Debian's ``golang-k8s-api-dev``, fetched by
``hack/build-k8s-protos.sh`` at build time; nothing upstream is committed):

    python -m pyk8s.apiserver.openapi_enums SRC_ROOT OUT.json [ZERO.json]

``SRC_ROOT`` holds ``k8s.io/api/...``. With ``ZERO.json`` it also writes, per definition,
the properties the Go zero value holds (:func:`derive_zero_fields`), which server-side
field tracking needs (``pyk8s.api.structuredmerge``). The output maps a definition name to its enum
fields: ``{"io.k8s.api.core.v1.Container": {"imagePullPolicy": {"enum": [...],
"lines": [...]}}}`` (``lines`` is empty when upstream prints no paragraph: a field whose
doc comment stops at ``---``). The server reads it with :func:`load` and the OpenAPI
builder applies it with :func:`apply` (the enums are documentation: validation of the
built-in kinds stays in our per-kind code, as upstream's does).
"""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

Enums = dict[str, dict[str, dict[str, list[str]]]]
HEADER = "Possible enum values:"

_TYPE = re.compile(r"^type\s+(\w+)\s+(=\s*)?(\*?[\w.]+)\s*(?://.*)?$")
_STRUCT = re.compile(r"^type\s+(\w+)\s+struct\s*\{\s*$")
_CONST_ONE = re.compile(r"^const\s+(.*)$")
_CONST_SPEC = re.compile(r"^(\w+)\s+(?:([\w.]+)\s*=\s*(.+)|=\s*([\w.]+)\((.+))$")
_FIELD = re.compile(r"^(\w+)\s+(\*?)([\w.]+)\s+`([^`]*)`")
_OTHER_TYPE = re.compile(r"^type\s+(\w+)\s+(?:map\[|\[\])")
_OTHER_FIELD = re.compile(r"^(\w+)\s+\S+\s+`([^`]*)`")
_EMBED = re.compile(r"^\*?([\w.]+)\s+`([^`]*)`")
_JSON_TAG = re.compile(r'json:"([^"]*)"')
_IMPORT = re.compile(r'^(?:(\w+)\s+)?"([^"]+)"')
_SPACES = re.compile(r"\s+")
_DIRECTIVE = re.compile(r"^//(line |extern |export |[a-z0-9]+:[a-z0-9])")


@dataclass
class _Field:
    json: str  # "" for an inlined embedded struct
    type: str  # "pkg/path.Name" once resolved
    stops_at_rule: bool  # the doc comment has a "---" line
    zero: bool = False  # present in the Go zero value (no omitempty, or a plain struct)
    omitempty: bool = False
    pointer: bool = False


@dataclass
class _Package:
    path: str
    imports: dict[str, str] = field(default_factory=dict)
    enum_types: set[str] = field(default_factory=set)
    aliases: dict[str, str] = field(default_factory=dict)
    structs: dict[str, list[_Field]] = field(default_factory=dict)
    others: set[str] = field(default_factory=set)  # named maps, slices and scalars
    consts: list[tuple[str, str, str, list[str]]] = field(default_factory=list)


def _comment_text(raw: list[str]) -> list[str]:
    """go/ast ``CommentGroup.Text`` for ``//`` comments, as lines."""
    out: list[str] = []
    for line in raw:
        if _DIRECTIVE.match(line):
            continue
        text = line[2:]
        if text.startswith(" "):
            text = text[1:]
        out.append(text.rstrip())
    while out and not out[0]:
        out.pop(0)
    while out and not out[-1]:
        out.pop()
    return out


def _go_string(literal: str) -> str | None:
    literal = literal.strip()
    m = re.match(r'^"((?:[^"\\]|\\.)*)"', literal) or re.match(r"^`([^`]*)`", literal)
    if m is None:
        return None
    if literal.startswith("`"):
        return m.group(1)
    return m.group(1).encode().decode("unicode_escape")


def _parse_file(text: str, pkg: _Package) -> None:
    comment: list[str] = []  # the comment group ending on the previous line
    lines = text.splitlines()
    i = 0
    in_const = in_import = False
    while i < len(lines):
        raw = lines[i]
        line = raw.strip()
        i += 1
        if line.startswith("//"):
            comment.append(line)
            continue
        doc, comment = _comment_text(comment), []
        if not line:
            continue
        if in_import:
            if line == ")":
                in_import = False
            elif m := _IMPORT.match(line):
                pkg.imports[m.group(1) or m.group(2).rsplit("/", 1)[-1]] = m.group(2)
            continue
        if in_const:
            if line == ")":
                in_const = False
            else:
                _const_spec(line, doc, pkg)
            continue
        if line.startswith("import ("):
            in_import = True
        elif line.startswith("import "):
            if m := _IMPORT.match(line[len("import ") :].strip()):
                pkg.imports[m.group(1) or m.group(2).rsplit("/", 1)[-1]] = m.group(2)
        elif line.startswith("const ("):
            in_const = True
        elif m := _CONST_ONE.match(line):
            _const_spec(m.group(1), doc, pkg)
        elif m := _STRUCT.match(raw):
            i = _parse_struct(lines, i, m.group(1), pkg)
        elif m := _OTHER_TYPE.match(raw):
            pkg.others.add(m.group(1))
        elif m := _TYPE.match(raw):
            name, alias, target = m.group(1), m.group(2), m.group(3)
            if alias:
                pkg.aliases[name] = target
                continue
            pkg.others.add(name)
            if target == "string" and any(d.strip().startswith("+enum") for d in doc):
                pkg.enum_types.add(name)


def _const_spec(line: str, doc: list[str], pkg: _Package) -> None:
    m = _CONST_SPEC.match(line)
    if m is None:
        return
    name = m.group(1)
    type_, literal = (m.group(2), m.group(3)) if m.group(2) else (m.group(4), m.group(5))
    value = _go_string(literal)
    if value is not None:
        pkg.consts.append((name, type_, value, doc))


def _parse_struct(lines: list[str], i: int, name: str, pkg: _Package) -> int:
    fields: list[_Field] = []
    doc: list[str] = []
    depth = 1
    while i < len(lines):
        line = lines[i].strip()
        i += 1
        if depth == 1 and line == "}":
            break
        if line.startswith("//"):
            doc.append(line)
            continue
        if depth > 1 or "{" in line:
            depth += line.count("{") - line.count("}")
            doc = []
            continue
        text = _comment_text(doc)
        doc = []
        stops = "---" in text
        if m := _FIELD.match(line):
            tag = _JSON_TAG.search(m.group(4))
            json_name = tag.group(1).split(",")[0] if tag else m.group(1)
            omitempty = bool(tag) and ",omitempty" in tag.group(1)  # type: ignore[union-attr]
            if json_name != "-":
                fields.append(
                    _Field(json_name or m.group(1), m.group(3), stops, not omitempty,
                           omitempty, bool(m.group(2)))
                )  # fmt: skip
        elif m := _EMBED.match(line):
            tag = _JSON_TAG.search(m.group(2))
            if tag and tag.group(1).split(",")[0] == "" and ",inline" in tag.group(1):
                fields.append(_Field("", m.group(1), stops))
            elif tag and tag.group(1).split(",")[0] not in ("", "-"):  # metav1.ObjectMeta
                omitempty = ",omitempty" in tag.group(1)
                pointer = line.startswith("*")
                fields.append(
                    _Field(tag.group(1).split(",")[0], m.group(1), stops, not omitempty,
                           omitempty, pointer)
                )  # fmt: skip
        elif m := _OTHER_FIELD.match(line):  # slices and maps: no enum, maybe zero-present
            tag = _JSON_TAG.search(m.group(2))
            json_name = tag.group(1).split(",")[0] if tag else m.group(1)
            if json_name and json_name != "-":
                omitempty = bool(tag) and ",omitempty" in tag.group(1)  # type: ignore[union-attr]
                fields.append(_Field(json_name, "", stops, not omitempty, omitempty))
    pkg.structs[name] = fields
    return i


def _qualify(pkg: _Package, name: str) -> str:
    if "." in name:
        alias, short = name.split(".", 1)
        return f"{pkg.imports.get(alias, alias)}.{short}"
    return f"{pkg.path}.{name}"


def def_name(go_path: str, type_name: str) -> str:
    """``k8s.io/api/core/v1`` + ``Container`` -> ``io.k8s.api.core.v1.Container``."""
    host, _, rest = go_path.partition("/")
    reversed_host = ".".join(reversed(host.split(".")))
    return f"{reversed_host}.{rest.replace('/', '.')}.{type_name}"


def _parse_tree(src_root: Path) -> dict[str, _Package]:
    packages: dict[str, _Package] = {}
    meta_v1 = src_root / "k8s.io" / "apimachinery" / "pkg" / "apis" / "meta" / "v1"
    walks = [os.walk(src_root / "k8s.io" / "api"), os.walk(meta_v1)]
    for dirpath, dirnames, filenames in (entry for walk in walks for entry in walk):
        dirnames[:] = sorted(d for d in dirnames if d not in ("testdata", "vendor"))
        rel = Path(dirpath).relative_to(src_root).as_posix()
        for fname in sorted(filenames):
            if not fname.endswith(".go") or fname.endswith("_test.go"):
                continue
            pkg = packages.setdefault(rel, _Package(rel))
            _parse_file((Path(dirpath) / fname).read_text(errors="replace"), pkg)
    return packages


def _flattener(packages: dict[str, _Package]) -> tuple[Any, Any]:
    """``resolve`` (type aliases followed) and ``fields_of`` (inline members flattened)."""
    aliases = {
        _qualify(p, a): _qualify(p, t) for p in packages.values() for a, t in p.aliases.items()
    }

    def resolve(qualified: str) -> str:
        seen = 0
        while qualified in aliases and seen < 10:
            qualified, seen = aliases[qualified], seen + 1
        return qualified

    def fields_of(path: str, struct: str, depth: int = 0) -> list[_Field]:
        p = packages.get(path)
        if p is None or struct not in p.structs or depth > 5:
            return []
        out: list[_Field] = []
        for f in p.structs[struct]:
            if not f.type:
                if f.json:
                    out.append(f)
                continue
            qualified = resolve(_qualify(p, f.type))
            if f.json:
                out.append(
                    _Field(
                        f.json,
                        qualified,
                        f.stops_at_rule,
                        f.zero or _plain_struct(f, qualified),
                        f.omitempty,
                        f.pointer,
                    )
                )
            else:
                inner_path, _, inner = qualified.rpartition(".")
                out += fields_of(inner_path, inner, depth + 1)
        return out

    def _plain_struct(f: _Field, qualified: str) -> bool:
        """A non-pointer struct (apimachinery's types counted as structs: the scalar-like
        ones, Time or Quantity, are leaves where it matters not)."""
        if f.pointer:
            return False
        path, _, name = qualified.rpartition(".")
        if path.startswith("k8s.io/apimachinery/") and path not in packages:
            return True
        p = packages.get(path)
        return p is not None and name in p.structs and name not in p.others

    return resolve, fields_of


def derive(src_root: Path) -> Enums:
    """Parses every package under ``src_root/k8s.io/api`` (blocking)."""
    packages = _parse_tree(src_root)
    resolve, fields_of = _flattener(packages)
    values: dict[str, list[tuple[str, str]]] = {
        f"{p.path}.{t}": [] for p in packages.values() for t in p.enum_types
    }
    for path in sorted(packages):
        p = packages[path]
        for name, type_, value, doc in p.consts:
            members = values.get(resolve(_qualify(p, type_)))
            if members is None or any(v == value for v, _ in members):
                continue
            comment = " ".join(doc).strip()
            comment = comment.removeprefix(name).strip()
            comment = _SPACES.sub(" ", comment)
            members.append((value, f" - `{_go_quote(value)}` {comment}".rstrip(" ")))

    enums: Enums = {}
    for path in sorted(packages):
        for struct in sorted(packages[path].structs):
            props: dict[str, dict[str, list[str]]] = {}
            for f in fields_of(path, struct):
                members = values.get(f.type)
                if not members:
                    continue
                props[f.json] = {
                    "enum": sorted(v for v, _ in members),
                    "lines": [] if f.stops_at_rule else sorted(line for _, line in members),
                }
            if props:
                enums[def_name(path, struct)] = props
    return enums


def derive_zero_fields(src_root: Path) -> dict[str, list[str]]:
    """Per definition, the properties its Go zero value holds (a field without
    ``omitempty``, or a struct that is not a pointer): structured-merge-diff compares a
    create with that zero value, so adding such a field never makes it a node of its own."""
    packages = _parse_tree(src_root)
    _resolve, fields_of = _flattener(packages)
    out: dict[str, list[str]] = {}
    for path in sorted(packages):
        for struct in sorted(packages[path].structs):
            zero = sorted({f.json for f in fields_of(path, struct) if f.zero})
            out[def_name(path, struct)] = zero
    return out


def derive_go_fields(src_root: Path) -> dict[str, dict[str, str]]:
    """Per definition, how encoding/json treats each property (``pyk8s.api.gojson``):
    ``p`` a pointer with ``omitempty`` (null is left out), ``P`` a pointer without it (null
    is written), ``s`` a struct that is no pointer (always written, its own zero value when
    missing), ``o`` any other ``omitempty`` field (left out when empty: ``""``, ``0``,
    ``false``, an empty list or map, null), ``z`` any other field (always written, its zero
    value when missing)."""
    packages = _parse_tree(src_root)
    _resolve, fields_of = _flattener(packages)
    out: dict[str, dict[str, str]] = {}
    for path in sorted(packages):
        for struct in sorted(packages[path].structs):
            codes: dict[str, str] = {}
            for f in fields_of(path, struct):
                if f.pointer:
                    codes[f.json] = "p" if f.omitempty else "P"
                elif f.omitempty and f.type and _is_struct(packages, f.type):
                    codes[f.json] = "s"  # omitempty never leaves a struct out
                elif f.omitempty:
                    codes[f.json] = "o"
                else:
                    codes[f.json] = "s" if f.type and _is_struct(packages, f.type) else "z"
            out[def_name(path, struct)] = codes
    return out


def _is_struct(packages: dict[str, _Package], qualified: str) -> bool:
    path, _, name = qualified.rpartition(".")
    if path.startswith("k8s.io/apimachinery/") and path not in packages:
        # Quantity, IntOrString and RawExtension are structs; types.UID is a string
        return qualified != "k8s.io/apimachinery/pkg/types.UID"
    p = packages.get(path)
    return p is not None and name in p.structs and name not in p.others


def _go_quote(value: str) -> str:
    """Go's ``%q`` for the plain strings enum values are."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def description(current: str | None, lines: list[str]) -> str:
    """The field's description with upstream's enum paragraph appended."""
    if not lines:
        return current or ""
    paragraph = "\n".join([HEADER, *lines])
    return f"{current}\n\n{paragraph}" if current else paragraph


def apply(components: dict[str, Any], enums: Enums) -> None:
    """Adds ``enum`` and the description paragraph to the named definitions (in place)."""
    for name, props in enums.items():
        schema = components.get(name)
        if not isinstance(schema, dict) or not isinstance(schema.get("properties"), dict):
            continue
        properties = schema["properties"]
        for prop, info in props.items():
            node = properties.get(prop)
            if not isinstance(node, dict) or node.get("type") not in ("string", ["string"]):
                continue
            new = dict(node)
            text = description(node.get("description"), info["lines"])
            if text:
                new["description"] = text
            new["enum"] = list(info["enum"])
            properties[prop] = new


def default_path() -> Path:
    env = os.environ.get("PYK8S_OPENAPI_ENUMS")
    if env:
        return Path(env)
    cache = os.environ.get("PYK8S_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "pyk8s"
    )
    return Path(cache) / "k8s-proto" / "enums.json"


def load(path: Path | None = None) -> Enums | None:
    """The derived enums, or None when the build step did not run (blocking)."""
    try:
        data = (path or default_path()).read_bytes()
    except FileNotFoundError:
        return None
    enums: Enums = orjson.loads(data)
    return enums


def load_zero_fields(path: Path | None = None) -> dict[str, list[str]] | None:
    """:func:`derive_zero_fields`' output, or None when the build step did not run."""
    try:
        data = (path or default_path().with_name("zerofields.json")).read_bytes()
    except FileNotFoundError:
        return None
    zero: dict[str, list[str]] = orjson.loads(data)
    return zero


def load_go_fields(path: Path | None = None) -> dict[str, dict[str, str]] | None:
    """:func:`derive_go_fields`' output, or None when the build step did not run."""
    try:
        data = (path or default_path().with_name("gofields.json")).read_bytes()
    except FileNotFoundError:
        return None
    codes: dict[str, dict[str, str]] = orjson.loads(data)
    return codes


def main(argv: list[str]) -> int:
    if len(argv) not in (2, 3, 4):
        print(
            "usage: python -m pyk8s.apiserver.openapi_enums SRC_ROOT OUT.json [ZERO.json "
            "[GOFIELDS.json]]",
            file=sys.stderr,
        )
        return 2
    if len(argv) >= 3:
        zero = derive_zero_fields(Path(argv[0]))
        Path(argv[2]).write_bytes(orjson.dumps(zero, option=orjson.OPT_SORT_KEYS))
    if len(argv) == 4:
        codes = derive_go_fields(Path(argv[0]))
        Path(argv[3]).write_bytes(orjson.dumps(codes, option=orjson.OPT_SORT_KEYS))
    enums = derive(Path(argv[0]))
    if not enums:
        print(f"no +enum types found under {argv[0]}/k8s.io/api", file=sys.stderr)
        return 1
    Path(argv[1]).write_bytes(orjson.dumps(enums, option=orjson.OPT_SORT_KEYS))
    fields = sum(len(v) for v in enums.values())
    print(f"derived the enums of {fields} fields in {len(enums)} definitions")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
