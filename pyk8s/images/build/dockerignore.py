"""``.dockerignore``: which files of the build context the build may see.

Patterns use Go's ``filepath.Match`` syntax plus ``**`` (any number of directories); a
leading ``!`` re-includes; the last matching pattern wins; a pattern matching a directory
excludes everything below it. Mirrors moby/patternmatcher ``patternmatcher.go`` and
``ignorefile/ignorefile.go``.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class _Pattern:
    regex: re.Pattern[str]
    exclusion: bool
    text: str


def read(context: Path) -> list[str]:
    path = context / ".dockerignore"
    if not path.is_file():
        return []
    out = []
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        out.append(line)
    return out


def _translate(pattern: str) -> str:
    out = []
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "*":
            if pattern[i : i + 2] == "**":
                i += 2
                if pattern[i : i + 1] == "/":
                    out.append("(?:.*/)?")
                    i += 1
                else:
                    out.append(".*")
                continue
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[":
            j = pattern.find("]", i + 1)
            if j == -1:
                raise ValueError(f"bad .dockerignore pattern {pattern!r}")
            cls = pattern[i + 1 : j].replace("\\", "\\\\")
            if cls.startswith("^") or cls.startswith("!"):
                cls = "^" + cls[1:]
            out.append(f"[{cls}]")
            i = j
        elif c == "\\" and i + 1 < len(pattern):
            i += 1
            out.append(re.escape(pattern[i]))
        else:
            out.append(re.escape(c))
        i += 1
    return "".join(out)


class Matcher:
    def __init__(self, patterns: list[str]) -> None:
        self.patterns: list[_Pattern] = []
        for raw in patterns:
            exclusion = raw.startswith("!")
            text = raw[1:].strip() if exclusion else raw
            p = os.path.normpath(text).lstrip("/")
            if p == ".":
                continue
            self.patterns.append(_Pattern(re.compile(_translate(p) + r"(?:/.*)?\Z"), exclusion, p))

    def excluded(self, rel: str) -> bool:
        """Is context-relative path ``rel`` (``/``-separated) excluded?"""
        result = False
        for p in self.patterns:
            if p.regex.match(rel):
                result = not p.exclusion
        return result

    def may_contain_included(self, rel_dir: str) -> bool:
        """Could an exception pattern re-include something below excluded dir ``rel_dir``?"""
        return any(p.exclusion and p.text.startswith(rel_dir + "/") for p in self.patterns) or any(
            p.exclusion and "*" in p.text for p in self.patterns
        )
