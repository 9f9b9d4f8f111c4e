"""Quantities and durations as metrics-server prints them (kubectl top parses these)."""

from __future__ import annotations

import pytest

from pyk8s.metrics.api import cpu_quantity, duration, memory_quantity


@pytest.mark.parametrize(
    ("nanocores", "text"),
    [(0, "0"), (1_000_000_000, "1"), (250_000_000, "250m"), (1_500, "1500n"), (3_000, "3u"),
     (123_456_789, "123456789n")],
)  # fmt: skip
def test_cpu(nanocores: int, text: str) -> None:
    assert cpu_quantity(nanocores) == text


@pytest.mark.parametrize(
    ("value", "text"),
    [(0, "0"), (4096, "4Ki"), (3 << 20, "3Mi"), (1 << 30, "1Gi"), (1000, "1000"), (1536, "1536")],
)
def test_memory(value: int, text: str) -> None:
    assert memory_quantity(value) == text


@pytest.mark.parametrize(
    ("seconds", "text"), [(15.0, "15s"), (15.002, "15.002s"), (75.5, "1m15.5s"), (60, "1m0s")]
)
def test_duration(seconds: float, text: str) -> None:
    assert duration(seconds) == text
