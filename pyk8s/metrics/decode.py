"""The kubelet's ``/metrics/resource`` text, decoded into a batch of points.

Mirrors metrics-server's ``pkg/scraper/client/resource/decode.go``: the node's cumulative
cpu and working set, and per container its cpu, working set and start time, each stamped
with the sample's own time (or the scrape's when it has none). Pod-level series are not
used: a pod's usage is the sum of its containers'.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

_LINE = re.compile(
    r"^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(?P<labels>.*)\})?\s+(?P<value>\S+)(?:\s+(?P<ts>-?\d+))?\s*$"
)
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


@dataclass
class Point:
    """One sample set (``storage.MetricsPoint``): times in seconds since the epoch, cpu in
    cumulative nanocore-seconds, memory in bytes."""

    timestamp: float = 0.0
    cpu_ns: int = -1
    memory: int = -1
    start_time: float = 0.0

    @property
    def complete(self) -> bool:
        return self.timestamp > 0 and self.cpu_ns >= 0 and self.memory >= 0


@dataclass
class Batch:
    """One scrape of one or more nodes."""

    nodes: dict[str, Point] = field(default_factory=dict)
    pods: dict[tuple[str, str], dict[str, Point]] = field(default_factory=dict)
    """(namespace, pod) -> container -> point."""

    def merge(self, other: Batch) -> None:
        self.nodes.update(other.nodes)
        self.pods.update(other.pods)


def _unescape(v: str) -> str:
    return v.replace('\\"', '"').replace("\\n", "\n").replace("\\\\", "\\")


def decode(text: str, node: str, scraped_at: float) -> Batch:
    """The batch in a ``/metrics/resource`` answer of ``node``; incomplete points are
    dropped (``decodeBatch`` keeps only points with both cpu and memory)."""
    node_point = Point()
    containers: dict[tuple[str, str, str], Point] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        m = _LINE.match(line)
        if m is None:
            continue
        try:
            value = float(m.group("value"))
        except ValueError:
            continue
        if math.isnan(value) or value < 0:
            continue
        ts = int(m.group("ts")) / 1000 if m.group("ts") else scraped_at
        name = m.group("name")
        if name.startswith("node_"):
            target = node_point
        elif name.startswith("container_"):
            labels = {k: _unescape(v) for k, v in _LABEL.findall(m.group("labels") or "")}
            key = (labels.get("namespace", ""), labels.get("pod", ""), labels.get("container", ""))
            if not all(key):
                continue
            target = containers.setdefault(key, Point())
        else:
            continue
        if name.endswith("_cpu_usage_seconds_total"):
            target.cpu_ns = round(value * 1e9)
            target.timestamp = ts
        elif name.endswith("_memory_working_set_bytes"):
            target.memory = int(value)
            target.timestamp = target.timestamp or ts
        elif name == "container_start_time_seconds":
            target.start_time = value
    batch = Batch()
    if node_point.complete:
        batch.nodes[node] = node_point
    for (ns, pod, container), point in containers.items():
        if point.complete:
            batch.pods.setdefault((ns, pod), {})[container] = point
    return batch
