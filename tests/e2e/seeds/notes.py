"""Pull the YAML manifests and kubectl commands out of the user notes in ``shared/seeds``.

The notes are markdown-ish text: manifests sit in fenced code blocks (often indented under a
list bullet, e.g. ``* ```yaml``), commands in backticks or fenced shell blocks. Only blocks whose
YAML documents carry a non-empty ``apiVersion`` and ``kind`` count as manifests; skeletons such as
``apiVersion:`` with no value are explanations, not manifests.
"""

from __future__ import annotations

import os
import re
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

_FENCE = re.compile(r"^(\s*)(?:[*\-+]\s+|\d+\.\s+)?```\s*([\w+-]*)\s*$")
_CLOSE = re.compile(r"^\s*```\s*$")


def seeds_dir() -> Path | None:
    """``shared/seeds`` beside the repository (``/work/shared`` here, beside the clone in CI)."""
    env = os.environ.get("PYK8S_SEEDS_DIR")
    if env:
        return Path(env)
    repo = Path(__file__).resolve().parents[3]
    for candidate in (repo.parent / "shared" / "seeds", repo.parent.parent / "shared" / "seeds"):
        if candidate.is_dir():
            return candidate
    return None


@dataclass(frozen=True)
class Block:
    file: str
    line: int  # 1-based line of the opening fence
    lang: str
    text: str


@dataclass(frozen=True)
class Manifest:
    id: str  # "<file stem>:<line>" (plus "#n" for the n-th document of a multi-document block)
    text: str
    docs: tuple[dict[str, Any], ...]


def fenced_blocks(path: Path) -> list[Block]:
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    out: list[Block] = []
    i = 0
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        start = i
        body: list[str] = []
        i += 1
        while i < len(lines) and not _CLOSE.match(lines[i]):
            body.append(lines[i].replace("\t", "  "))
            i += 1
        i += 1
        out.append(
            Block(path.name, start + 1, m.group(2).lower(), textwrap.dedent("\n".join(body)))
        )
    return out


def _is_manifest(doc: object) -> bool:
    return (
        isinstance(doc, dict)
        and isinstance(doc.get("apiVersion"), str)
        and isinstance(doc.get("kind"), str)
        and bool(doc["apiVersion"])
        and bool(doc["kind"])
    )


def manifests(root: Path) -> list[Manifest]:
    out: list[Manifest] = []
    for path in sorted(root.glob("*.txt")):
        stem = path.stem.split("_")[0]
        for block in fenced_blocks(path):
            if "apiVersion" not in block.text:
                continue
            try:
                docs = [d for d in yaml.safe_load_all(block.text) if d is not None]
            except yaml.YAMLError:
                docs = []
            good = [d for d in docs if _is_manifest(d)]
            if not good:
                continue
            out.append(Manifest(f"{stem}:{block.line}", block.text, tuple(good)))
    return out
