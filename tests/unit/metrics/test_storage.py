"""Usage rates from the last two points (metrics-server ``pkg/storage``)."""

from __future__ import annotations

import pytest

from pyk8s.metrics.decode import Batch, Point
from pyk8s.metrics.storage import Storage, resource_usage


def _node(ts: float, cpu_s: float, mem: int = 1 << 20) -> Batch:
    return Batch(nodes={"n1": Point(timestamp=ts, cpu_ns=round(cpu_s * 1e9), memory=mem)})


def _pod(ts: float, cpu_s: float, start: float = 1.0, mem: int = 4096) -> Batch:
    point = Point(timestamp=ts, cpu_ns=round(cpu_s * 1e9), memory=mem, start_time=start)
    return Batch(pods={("default", "busy"): {"c": point}})


@pytest.mark.parametrize(
    ("prev", "last", "cpu", "window"),
    [
        pytest.param((100.0, 10.0), (115.0, 25.0), 1_000_000_000, 15.0, id="one-core"),
        pytest.param((100.0, 10.0), (110.0, 10.5), 50_000_000, 10.0, id="50m"),
        pytest.param((100.0, 10.0), (130.0, 10.0), 0, 30.0, id="idle"),
    ],
)
def test_resource_usage_is_the_counter_rate(
    prev: tuple[float, float], last: tuple[float, float], cpu: int, window: float
) -> None:
    a = Point(timestamp=prev[0], cpu_ns=round(prev[1] * 1e9), memory=1)
    b = Point(timestamp=last[0], cpu_ns=round(last[1] * 1e9), memory=2048)
    usage = resource_usage(b, a)
    assert usage is not None
    assert usage.cpu_nanocores == cpu
    assert (usage.memory_bytes, usage.window, usage.timestamp) == (2048, window, last[0])


def test_decreasing_counter_gives_no_usage() -> None:
    a = Point(timestamp=100, cpu_ns=5_000, memory=1)
    b = Point(timestamp=110, cpu_ns=1_000, memory=1)
    assert resource_usage(b, a) is None


def test_node_needs_two_points_and_uses_the_newest_pair() -> None:
    s = Storage()
    s.store(_node(100, 10))
    assert s.node("n1") is None and not s.ready
    s.store(_node(115, 13))
    usage = s.node("n1")
    assert usage is not None and s.ready
    assert usage.cpu_nanocores == 200_000_000 and usage.window == 15
    s.store(_node(130, 13.3, mem=5 << 20))
    usage = s.node("n1")
    assert usage is not None
    assert usage.cpu_nanocores == 20_000_000 and usage.memory_bytes == 5 << 20


def test_repeated_point_keeps_previous() -> None:
    s = Storage()
    s.store(_node(100, 10))
    s.store(_node(115, 11.5))
    s.store(_node(115, 11.5))  # the kubelet had no newer sample
    usage = s.node("n1")
    assert usage is not None and usage.cpu_nanocores == 100_000_000


def test_node_gone_from_a_batch_is_forgotten() -> None:
    s = Storage()
    s.store(_node(100, 10))
    s.store(_node(115, 11))
    s.store(Batch())
    assert s.node("n1") is None


def test_pod_usage_and_fresh_container() -> None:
    s = Storage(resolution=15)
    # started 12 s before its first point: measured from its start with zero cpu
    s.store(_pod(112, 6, start=100))
    got = s.pod("default", "busy")
    assert got is not None
    containers, ts, window = got
    assert containers["c"].cpu_nanocores == 500_000_000 and (ts, window) == (112, 12)
    s.store(_pod(127, 13.5, start=100))
    got = s.pod("default", "busy")
    assert got is not None and got[0]["c"].cpu_nanocores == 500_000_000 and got[2] == 15


def test_old_container_needs_two_points() -> None:
    s = Storage(resolution=15)
    s.store(_pod(500, 6, start=100))
    assert s.pod("default", "busy") is None
    assert s.pod("default", "other") is None


def test_pod_with_a_container_without_usage_is_not_served() -> None:
    s = Storage(resolution=15)
    first = Batch(pods={("ns", "p"): {"a": Point(500, 1_000, 1, 100)}})
    second = Batch(
        pods={("ns", "p"): {"a": Point(515, 2_000, 1, 100), "b": Point(515, 10, 1, 100)}}
    )
    s.store(first)
    s.store(second)
    assert s.pod("ns", "p") is None
