"""Dockerfile parsing: instructions with their line numbers, flags, JSON (exec) forms, and the
variable expansion and word splitting docker applies to ADD, COPY, ENV, EXPOSE, FROM, LABEL,
STOPSIGNAL, USER, VOLUME and WORKDIR.

Mirrors moby/buildkit ``frontend/dockerfile/parser/parser.go`` (directives, line
continuation, comments), ``instructions/parse.go`` and ``shell/lex.go`` (``$VAR``, ``${VAR}``,
``${VAR:-word}``, ``${VAR:+word}``, quotes and escapes).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

INSTRUCTIONS = frozenset(
    {
        "ADD", "ARG", "CMD", "COPY", "ENTRYPOINT", "ENV", "EXPOSE", "FROM", "HEALTHCHECK",
        "LABEL", "MAINTAINER", "ONBUILD", "RUN", "SHELL", "STOPSIGNAL", "USER", "VOLUME",
        "WORKDIR",
    }
)  # fmt: skip
JSON_FORMS = frozenset({"RUN", "CMD", "ENTRYPOINT", "SHELL", "VOLUME", "COPY", "ADD"})
_FLAG = re.compile(r"--([a-z][a-z-]*)(?:=(\S*))?")


class DockerfileError(ValueError):
    """A malformed Dockerfile: the message names the file, the line and the reason."""

    def __init__(self, file: str, line: int, message: str) -> None:
        super().__init__(f"{file}:{line}: {message}")
        self.line = line


@dataclass
class Instruction:
    cmd: str  # upper case
    args: str  # the raw text after the instruction word and its flags
    flags: dict[str, str] = field(default_factory=dict)
    json: list[str] | None = None  # exec form
    line: int = 0
    original: str = ""
    heredocs: list[tuple[str, str]] = field(default_factory=list)  # (name, content)

    def __str__(self) -> str:
        return self.original


@dataclass
class Stage:
    base: str
    name: str
    platform: str
    line: int
    instructions: list[Instruction] = field(default_factory=list)


@dataclass
class Dockerfile:
    global_args: list[Instruction]
    stages: list[Stage]
    escape: str = "\\"


def parse(text: str, file: str = "Dockerfile") -> Dockerfile:
    escape = "\\"
    lines = text.splitlines()
    # Parser directives: only at the very top, before any other line.
    for raw in lines:
        m = re.fullmatch(r"\s*#\s*([a-zA-Z]+)\s*=\s*(\S+)\s*", raw)
        if not m:
            break
        if m.group(1).lower() == "escape":
            if m.group(2) not in ("\\", "`"):
                raise DockerfileError(file, 1, f"invalid escape token {m.group(2)!r}")
            escape = m.group(2)
    instructions = list(_logical_lines(lines, escape, file))
    global_args: list[Instruction] = []
    stages: list[Stage] = []
    for ins in instructions:
        if ins.cmd == "FROM":
            words = ins.args.split()
            if len(words) == 3 and words[1].lower() == "as":
                name = words[2].lower()
                if not re.fullmatch(r"[a-z][a-z0-9-_.]*", name):
                    raise DockerfileError(file, ins.line, f"invalid name for build stage: {name!r}")
            elif len(words) == 1:
                name = ""
            else:
                raise DockerfileError(file, ins.line, "FROM requires either one or three arguments")
            stages.append(Stage(words[0], name, ins.flags.get("platform", ""), ins.line))
        elif not stages:
            if ins.cmd != "ARG":
                raise DockerfileError(
                    file, ins.line, f"no build stage in current context ({ins.cmd} before FROM)"
                )
            global_args.append(ins)
        else:
            stages[-1].instructions.append(ins)
    if not stages:
        raise DockerfileError(file, max(len(lines), 1), "the Dockerfile has no FROM instruction")
    return Dockerfile(global_args, stages, escape)


_HEREDOC = re.compile(r"<<(-?)([\"']?)([A-Za-z_][A-Za-z0-9_]*)\2")


def _logical_lines(lines: list[str], escape: str, file: str) -> list[Instruction]:
    out: list[Instruction] = []
    buf: list[str] = []
    start = 0
    i = 0
    while i < len(lines):
        raw = lines[i]
        i += 1
        stripped = raw.strip()
        if not buf and (not stripped or stripped.startswith("#")):
            continue
        if buf and stripped.startswith("#"):
            continue  # comments inside a continued instruction are dropped
        if not buf:
            start = i
        text = raw.rstrip()
        if text.endswith(escape):
            buf.append(text[: -len(escape)])
            continue
        buf.append(text)
        ins = _instruction(
            " ".join(s.strip() for s in buf if s.strip()) if len(buf) > 1 else buf[0].strip(),
            start,
            file,
        )
        buf = []
        if ins.cmd in ("RUN", "COPY", "ADD") and ins.json is None:
            # Here-documents (BuildKit's Dockerfile 1.4): the lines up to each terminator.
            for m in _HEREDOC.finditer(ins.args):
                strip_tabs, name = m.group(1) == "-", m.group(3)
                body: list[str] = []
                while True:
                    if i >= len(lines):
                        raise DockerfileError(file, start, f"unterminated here-document <<{name}")
                    line = lines[i]
                    i += 1
                    if (line.lstrip("\t") if strip_tabs else line) == name:
                        break
                    body.append(line.lstrip("\t") if strip_tabs else line)
                ins.heredocs.append((name, "".join(b + "\n" for b in body)))
        out.append(ins)
    if buf:
        out.append(_instruction(" ".join(s.strip() for s in buf if s.strip()), start, file))
    return out


def _instruction(text: str, line: int, file: str) -> Instruction:
    word, _, rest = text.partition(" ")
    cmd = word.upper()
    if cmd not in INSTRUCTIONS:
        raise DockerfileError(file, line, f"unknown instruction: {word}")
    rest = rest.strip()
    flags: dict[str, str] = {}
    if cmd in ("FROM", "COPY", "ADD", "RUN", "HEALTHCHECK"):
        while rest.startswith("--"):
            m = _FLAG.match(rest)
            if not m:
                raise DockerfileError(file, line, f"{cmd}: bad flag in {rest.split()[0]!r}")
            flags[m.group(1)] = m.group(2) if m.group(2) is not None else "true"
            rest = rest[m.end() :].lstrip()
        allowed = {
            "FROM": {"platform"},
            "COPY": {"from", "chown", "chmod", "link"},
            "ADD": {"chown", "chmod", "link", "checksum", "keep-git-dir"},
            "RUN": {"network", "mount", "security"},
            "HEALTHCHECK": {"interval", "timeout", "start-period", "start-interval", "retries"},
        }[cmd]
        for f in flags:
            if f not in allowed:
                raise DockerfileError(file, line, f"unknown flag: --{f} for {cmd}")
    as_json: list[str] | None = None
    if cmd in JSON_FORMS and rest.startswith("["):
        try:
            value = json.loads(rest)
        except json.JSONDecodeError:
            value = None
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            as_json = value
    if not rest and cmd not in ("CMD", "ENTRYPOINT"):
        raise DockerfileError(file, line, f"{cmd} requires at least one argument")
    return Instruction(cmd, rest, flags, as_json, line, text)


# -- expansion and words -----------------------------------------------------------------


def expand(word: str, env: Mapping[str, str], escape: str = "\\") -> str:
    """Expand variables in ``word`` and remove quotes (one word, no splitting)."""
    words = _lex(word, env, escape, split=False)
    return words[0] if words else ""


def words(text: str, env: Mapping[str, str], escape: str = "\\") -> list[str]:
    """Expand and split on unquoted whitespace."""
    return _lex(text, env, escape, split=True)


def _lex(text: str, env: Mapping[str, str], escape: str, split: bool) -> list[str]:
    out: list[str] = []
    cur: list[str] = []
    have = False
    i = 0
    quote = ""
    while i < len(text):
        c = text[i]
        if quote == "'":
            if c == "'":
                quote = ""
            else:
                cur.append(c)
            i += 1
            continue
        if c == escape and i + 1 < len(text):
            nxt = text[i + 1]
            if quote == '"' and nxt not in ('"', "$", escape):
                cur.append(c)
            cur.append(nxt)
            have = True
            i += 2
            continue
        if c in ("'", '"') and not quote:
            quote = c
            have = True
            i += 1
            continue
        if c == '"' and quote == '"':
            quote = ""
            i += 1
            continue
        if c == "$":
            value, i = _variable(text, i, env, escape)
            cur.append(value)
            have = True
            continue
        if split and not quote and c.isspace():
            if cur or have:
                out.append("".join(cur))
            cur, have = [], False
            i += 1
            continue
        cur.append(c)
        have = True
        i += 1
    if quote:
        raise ValueError(f"unmatched {quote} quote in {text!r}")
    if cur or have or not split:
        out.append("".join(cur))
    return out


def _variable(text: str, i: int, env: Mapping[str, str], escape: str) -> tuple[str, int]:
    """``text[i]`` is ``$``: the value and the index after the reference."""
    if i + 1 >= len(text):
        return "$", i + 1
    if text[i + 1] == "{":
        end = _matching_brace(text, i + 2)
        body = text[i + 2 : end]
        m = re.fullmatch(r"([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-+])(.*))?", body, re.S)
        if not m:
            raise ValueError(f"bad substitution ${{{body}}}")
        name, op, word = m.group(1), m.group(2), m.group(3) or ""
        value = env.get(name)
        if op in (":-", "-"):
            if value is None or (op == ":-" and value == ""):
                value = expand(word, env, escape)
        elif op in (":+", "+"):
            value = expand(word, env, escape) if value is not None and (op == "+" or value) else ""
        return value or "", end + 1
    m = re.match(r"[A-Za-z_][A-Za-z0-9_]*", text[i + 1 :])
    if not m:
        return "$", i + 1
    return env.get(m.group(0), ""), i + 1 + m.end()


def _matching_brace(text: str, start: int) -> int:
    depth = 1
    for j in range(start, len(text)):
        if text[j] == "{":
            depth += 1
        elif text[j] == "}":
            depth -= 1
            if depth == 0:
                return j
    raise ValueError(f"missing }} in {text!r}")


def key_values(text: str, env: Mapping[str, str], escape: str, what: str) -> list[tuple[str, str]]:
    """``ENV``/``LABEL`` arguments: ``k=v k2="v 2"``, or the legacy ``ENV key some value``."""
    first = text.split(None, 1)
    if first and "=" not in first[0]:
        if what == "LABEL" or len(first) < 2:
            raise ValueError(f"{what} must have two arguments")
        return [(first[0], expand(first[1], env, escape))]
    out = []
    for w in words(text, env, escape):
        k, sep, v = w.partition("=")
        if not sep:
            raise ValueError(f"{what} {w!r}: want key=value")
        if not k:
            raise ValueError(f"{what} names can not be blank")
        out.append((k, v))
    return out
