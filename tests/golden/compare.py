"""Compare a rendered artefact with its golden file; UPDATE_GOLDEN=1 rewrites the file."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

UPDATE = os.environ.get("UPDATE_GOLDEN", "") not in ("", "0")


def check(rendered: str, golden: Path) -> None:
    if UPDATE:
        golden.write_text(rendered)
        return
    if not golden.exists():
        pytest.fail(f"{golden} is missing; run with UPDATE_GOLDEN=1 to create it")
    expected = golden.read_text()
    assert rendered == expected, f"{golden.name} differs; UPDATE_GOLDEN=1 rewrites it"
