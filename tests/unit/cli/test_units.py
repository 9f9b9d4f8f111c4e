from __future__ import annotations

import datetime as dt

import pytest

from pyk8s.cli import units


@pytest.mark.parametrize(
    ("size", "text"),
    [
        (0, "0B"),
        (999, "999B"),
        (1000, "1kB"),
        (1234, "1.23kB"),
        (4_260_000, "4.26MB"),
        (187_000_000, "187MB"),
        (1_200_000_000, "1.2GB"),
    ],
)
def test_human_size(size: int, text: str) -> None:
    assert units.human_size(size) == text


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0.5, "Less than a second"),
        (1, "1 second"),
        (59, "59 seconds"),
        (60, "About a minute"),
        (120, "2 minutes"),
        (3600, "About an hour"),
        (3 * 3600, "3 hours"),
        (3 * 86400, "3 days"),
        (15 * 86400, "2 weeks"),
        (70 * 86400, "2 months"),
        (800 * 86400, "2 years"),
    ],
)
def test_human_duration(seconds: float, text: str) -> None:
    assert units.human_duration(seconds) == text


def test_ago_parses_nanoseconds() -> None:
    now = dt.datetime(2024, 1, 2, 4, 5, 5, tzinfo=dt.UTC)
    assert units.ago("2024-01-02T03:04:05.123456789Z", now) == "About an hour ago"
    assert units.ago("", now) == "N/A"
