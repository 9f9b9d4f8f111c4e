"""The last two points of every node and container, and usage rates computed from them.

Mirrors metrics-server's ``pkg/storage`` (``node.go``, ``pod.go``, ``types.go``
``resourceUsage``): each scrape's point becomes the last one and the former last becomes
the previous one when it is newer; cpu usage is the cumulative counter's increase divided
by the time between the two points (the window), memory is the last working set. A
container younger than the resolution (but at least 10 s old) is measured from its start
with zero cpu, as ``pod.go`` does for fresh containers. A counter that went backwards (a
restart) gives no usage until the next scrape. A pod is served only when every container
it reported has a usage.
"""

from __future__ import annotations

from dataclasses import dataclass

from pyk8s.metrics.decode import Batch, Point

FRESH_CONTAINER_MIN_WINDOW = 10.0
"""Seconds a fresh container must have run before its start serves as previous point."""


@dataclass(frozen=True)
class Usage:
    cpu_nanocores: int
    memory_bytes: int
    timestamp: float
    window: float


def resource_usage(last: Point, prev: Point) -> Usage | None:
    if last.cpu_ns < prev.cpu_ns:
        return None  # "unexpected decrease in cumulative CPU usage value"
    window = last.timestamp - prev.timestamp
    if window <= 0:
        return None
    rate = (last.cpu_ns - prev.cpu_ns) / window
    return Usage(int(rate), last.memory, last.timestamp, window)


def _shift(new: Point, last: Point | None, prev: Point | None) -> Point | None:
    """The previous point to keep when ``new`` arrives (``nodeStorage.Store``)."""
    if last is None:
        return None
    if new.timestamp > last.timestamp:
        return last
    if prev is not None and prev.timestamp < new.timestamp:
        return prev
    return None


class Storage:
    def __init__(self, resolution: float = 15.0) -> None:
        self.resolution = resolution
        self._last_nodes: dict[str, Point] = {}
        self._prev_nodes: dict[str, Point] = {}
        self._last_pods: dict[tuple[str, str], dict[str, Point]] = {}
        self._prev_pods: dict[tuple[str, str], dict[str, Point]] = {}

    @property
    def ready(self) -> bool:
        """Whether a usage can be served (``storage.Ready``: some node has two points)."""
        return bool(self._prev_nodes)

    def store(self, batch: Batch) -> None:
        last_nodes: dict[str, Point] = {}
        prev_nodes: dict[str, Point] = {}
        for name, point in batch.nodes.items():
            last_nodes[name] = point
            before = _shift(point, self._last_nodes.get(name), self._prev_nodes.get(name))
            if before is not None:
                prev_nodes[name] = before
        self._last_nodes, self._prev_nodes = last_nodes, prev_nodes

        last_pods: dict[tuple[str, str], dict[str, Point]] = {}
        prev_pods: dict[tuple[str, str], dict[str, Point]] = {}
        for key, containers in batch.pods.items():
            old_last = self._last_pods.get(key, {})
            old_prev = self._prev_pods.get(key, {})
            last_pods[key] = dict(containers)
            kept: dict[str, Point] = {}
            for cname, point in containers.items():
                age = point.timestamp - point.start_time
                if point.start_time > 0 and FRESH_CONTAINER_MIN_WINDOW <= age < self.resolution:
                    kept[cname] = Point(timestamp=point.start_time, cpu_ns=0, memory=0)
                    continue
                shifted = _shift(point, old_last.get(cname), old_prev.get(cname))
                if shifted is not None:
                    kept[cname] = shifted
            if kept:
                prev_pods[key] = kept
        self._last_pods, self._prev_pods = last_pods, prev_pods

    def node(self, name: str) -> Usage | None:
        last, prev = self._last_nodes.get(name), self._prev_nodes.get(name)
        if last is None or prev is None:
            return None
        return resource_usage(last, prev)

    def pod(self, namespace: str, name: str) -> tuple[dict[str, Usage], float, float] | None:
        """Container usages, the timestamp and the window; None unless every one is known."""
        last = self._last_pods.get((namespace, name))
        prev = self._prev_pods.get((namespace, name), {})
        if not last:
            return None
        out: dict[str, Usage] = {}
        for cname, point in last.items():
            p = prev.get(cname)
            usage = resource_usage(point, p) if p is not None else None
            if usage is None:
                return None
            out[cname] = usage
        timestamp = max(u.timestamp for u in out.values())
        window = min(u.window for u in out.values())
        return out, timestamp, window
