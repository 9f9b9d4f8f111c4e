from __future__ import annotations

import pytest

from pyk8s.kubelet.runtime import backoff


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_doubles_from_10s_to_5min() -> None:
    clock = Clock()
    b = backoff.BackOff(clock=clock)
    k = backoff.key("uid", "app", "h")
    seen = []
    for _ in range(8):
        seen.append(b.next(k))
        clock.now += 1
    assert seen == [10, 20, 40, 80, 160, 300, 300, 300]


@pytest.mark.parametrize(
    ("finished_ago", "backoff_s", "expected"),
    [
        pytest.param(5, 10, True, id="inside"),
        pytest.param(10, 10, False, id="at-the-edge"),
        pytest.param(11, 10, False, id="after"),
        pytest.param(100, 160, True, id="long-backoff"),
    ],
)
def test_in_backoff_since(finished_ago: float, backoff_s: float, expected: bool) -> None:
    e = backoff.Entry(backoff_s, last_update=500)
    assert backoff.in_backoff_since(e, event_time=1000 - finished_ago, now=1000) is expected
    assert backoff.in_backoff_since(None, 0, 1000) is False


def test_resets_after_twice_the_maximum_without_failures() -> None:
    clock = Clock()
    b = backoff.BackOff(clock=clock)
    for _ in range(4):
        b.next("k")
    assert b.get("k") == 80
    clock.now += 600  # exactly 2 x max: still remembered
    assert b.next("k") == 160
    clock.now += 601
    assert b.next("k") == 10
    clock.now += 601
    b.gc()
    assert b.get("k") == 0
