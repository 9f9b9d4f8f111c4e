from __future__ import annotations

import io

from rich.console import Console

from pyk8s.cli import image_pull


def test_rich_progress_draws_a_bar_per_layer() -> None:
    buf = io.StringIO()
    console = Console(file=buf, force_terminal=True, width=100)
    with image_pull.RichProgress(console) as bars:
        bars.start("abc123def456", "abc123def456", 2_000_000)
        bars.advance("abc123def456", 1_000_000)
        bars.finish("abc123def456", "done")
        bars.finish("0123456789ab", "exists")
    out = buf.getvalue()
    assert "abc123def456" in out and "done" in out
    assert "0123456789ab" in out and "exists" in out
    assert "2.0 MB" in out or "2.0 MB" in out.replace("\xa0", " ")
