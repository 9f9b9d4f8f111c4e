"""The kubelet's ``/metrics/resource``: the cpu and memory of ``/stats/summary`` in Prometheus text.

Mirrors ``pkg/kubelet/metrics/collectors/resource_metrics.go`` (what metrics-server scrapes
for ``kubectl top``): cumulative cpu seconds as counters and working sets as gauges, each
stamped with the time of its sample; ``resource_scrape_error`` (and the deprecated
``scrape_error``) say whether the summary could be read at all.
"""

from __future__ import annotations

import calendar
import time
from collections.abc import Callable, Iterator
from typing import Any

Obj = dict[str, Any]

# name -> (help, type, stability, label names)
_METRICS: dict[str, tuple[str, str, str, tuple[str, ...]]] = {
    "node_cpu_usage_seconds_total": (
        "Cumulative cpu time consumed by the node in core-seconds",
        "counter",
        "STABLE",
        (),
    ),
    "node_memory_working_set_bytes": (
        "Current working set of the node in bytes",
        "gauge",
        "STABLE",
        (),
    ),
    "container_start_time_seconds": (
        "Start time of the container since unix epoch in seconds",
        "gauge",
        "STABLE",
        ("container", "pod", "namespace"),
    ),
    "container_cpu_usage_seconds_total": (
        "Cumulative cpu time consumed by the container in core-seconds",
        "counter",
        "STABLE",
        ("container", "pod", "namespace"),
    ),
    "container_memory_working_set_bytes": (
        "Current working set of the container in bytes",
        "gauge",
        "STABLE",
        ("container", "pod", "namespace"),
    ),
    "pod_cpu_usage_seconds_total": (
        "Cumulative cpu time consumed by the pod in core-seconds",
        "counter",
        "STABLE",
        ("pod", "namespace"),
    ),
    "pod_memory_working_set_bytes": (
        "Current working set of the pod in bytes",
        "gauge",
        "STABLE",
        ("pod", "namespace"),
    ),
    "resource_scrape_error": (
        "1 if there was an error while getting container metrics, 0 otherwise",
        "gauge",
        "STABLE",
        (),
    ),
    "scrape_error": (
        "(Deprecated since 1.29.0) 1 if there was an error while getting container metrics, "
        "0 otherwise",
        "gauge",
        "ALPHA",
        (),
    ),
}


def _millis(stamp: str | None) -> int | None:
    """An RFC 3339 time of the summary as Prometheus' milliseconds since the epoch."""
    if not stamp:
        return None
    try:
        parsed = time.strptime(stamp[:19], "%Y-%m-%dT%H:%M:%S")
    except ValueError:
        return None
    return calendar.timegm(parsed) * 1000


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _number(value: float) -> str:
    return repr(float(value)) if value != int(value) else f"{int(value)}"


def _samples(summary: Obj) -> Iterator[tuple[str, tuple[str, ...], float, int | None]]:
    """(metric, label values, value, timestamp ms) for every figure the summary has."""
    node = summary.get("node") or {}

    def cpu(s: Obj) -> tuple[float, int | None] | None:
        c = s.get("cpu") or {}
        if c.get("usageCoreNanoSeconds") is None:
            return None
        return c["usageCoreNanoSeconds"] / 1e9, _millis(c.get("time"))

    def memory(s: Obj) -> tuple[float, int | None] | None:
        m = s.get("memory") or {}
        if m.get("workingSetBytes") is None:
            return None
        return float(m["workingSetBytes"]), _millis(m.get("time"))

    figures: tuple[tuple[str, Callable[[Obj], tuple[float, int | None] | None]], ...] = (
        ("cpu_usage_seconds_total", cpu),
        ("memory_working_set_bytes", memory),
    )
    for suffix, get in figures:
        got = get(node)
        if got is not None:
            yield f"node_{suffix}", (), got[0], got[1]
    for pod in summary.get("pods") or []:
        ref = pod.get("podRef") or {}
        name, ns = ref.get("name", ""), ref.get("namespace", "")
        for c in pod.get("containers") or []:
            labels = (c.get("name", ""), name, ns)
            started = _millis(c.get("startTime"))
            if started is not None and started > 0:
                yield "container_start_time_seconds", labels, started / 1000, None
            for suffix, get in figures:
                got = get(c)
                if got is not None:
                    yield f"container_{suffix}", labels, got[0], got[1]
        for suffix, get in figures:
            got = get(pod)
            if got is not None:
                yield f"pod_{suffix}", (name, ns), got[0], got[1]


def render(summary: Obj | None) -> str:
    """The exposition text for a summary; None: the summary could not be read."""
    by_metric: dict[str, list[str]] = {name: [] for name in _METRICS}
    if summary is not None:
        for metric, values, value, stamp in _samples(summary):
            names = _METRICS[metric][3]
            labels = ",".join(f'{k}="{_escape(v)}"' for k, v in zip(names, values, strict=True))
            line = (
                f"{metric}{{{labels}}} {_number(value)}" if labels else f"{metric} {_number(value)}"
            )
            by_metric[metric].append(line if stamp is None else f"{line} {stamp}")
    failed = "1" if summary is None else "0"
    by_metric["resource_scrape_error"].append(f"resource_scrape_error {failed}")
    by_metric["scrape_error"].append(f"scrape_error {failed}")
    out: list[str] = []
    for metric in sorted(by_metric):
        lines = by_metric[metric]
        if not lines:
            continue
        text, kind, stability, _ = _METRICS[metric]
        out.append(f"# HELP {metric} [{stability}] {text}")
        out.append(f"# TYPE {metric} {kind}")
        out.extend(lines)
    return "\n".join(out) + "\n"
