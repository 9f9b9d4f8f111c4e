from __future__ import annotations

import pytest

from pyk8s.images.build import dockerignore


@pytest.mark.parametrize(
    ("patterns", "path", "excluded"),
    [
        (["*.log"], "a.log", True),
        (["*.log"], "dir/a.log", False),
        (["**/*.log"], "dir/sub/a.log", True),
        (["**/*.log"], "a.log", True),
        (["build"], "build/x/y", True),
        (["*", "!keep.txt"], "keep.txt", False),
        (["*", "!keep.txt"], "other", True),
        (["secret?"], "secret1", True),
        (["[a-c].txt"], "b.txt", True),
        (["[a-c].txt"], "d.txt", False),
        (["/abs/path"], "abs/path", True),
        (["node_modules", "!node_modules/keep"], "node_modules/keep", False),
    ],
)
def test_matcher(patterns: list[str], path: str, excluded: bool) -> None:
    assert dockerignore.Matcher(patterns).excluded(path) is excluded
