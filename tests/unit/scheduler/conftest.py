"""Fixtures for scheduler unit tests: fake seams, a handle over a snapshot, a fake clock."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from pyk8s.scheduler.cache import Snapshot
from pyk8s.scheduler.fake import FakeSeams
from pyk8s.scheduler.framework.runtime import Framework
from pyk8s.scheduler.framework.types import NodeInfo


class FakeClock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def step(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def fakes() -> FakeSeams:
    return FakeSeams()


def handle_over(nodes: Sequence[NodeInfo], fakes: FakeSeams | None = None) -> Framework:
    """A framework with no plugins, used as the Handle a plugin under test receives."""
    f = Framework("test", {}, {}, {}, (fakes or FakeSeams()).seams())
    f.set_snapshot(Snapshot(list(nodes)))
    return f
