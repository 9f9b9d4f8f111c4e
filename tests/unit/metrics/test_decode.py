"""Decoding the kubelet's ``/metrics/resource`` as the kubelet renders it."""

from __future__ import annotations

from pyk8s.kubelet.stats import resource_metrics
from pyk8s.metrics.decode import decode

SUMMARY = {
    "node": {
        "nodeName": "n1",
        "cpu": {"time": "2026-01-01T00:00:10Z", "usageCoreNanoSeconds": 12_500_000_000},
        "memory": {"time": "2026-01-01T00:00:10Z", "workingSetBytes": 1 << 30},
    },
    "pods": [
        {
            "podRef": {"name": "busy", "namespace": "default", "uid": "u1"},
            "cpu": {"time": "2026-01-01T00:00:10Z", "usageCoreNanoSeconds": 3_000_000_000},
            "memory": {"time": "2026-01-01T00:00:10Z", "workingSetBytes": 8192},
            "containers": [
                {
                    "name": "burn",
                    "startTime": "2026-01-01T00:00:00Z",
                    "cpu": {"time": "2026-01-01T00:00:09Z", "usageCoreNanoSeconds": 2_999_000_000},
                    "memory": {"time": "2026-01-01T00:00:09Z", "workingSetBytes": 4096},
                },
                {"name": "no-cpu", "memory": {"workingSetBytes": 1}},
            ],
        }
    ],
}
T0 = 1767225600  # 2026-01-01T00:00:00Z


def test_decode_kubelet_text() -> None:
    batch = decode(resource_metrics.render(SUMMARY), "n1", scraped_at=T0 + 60)
    node = batch.nodes["n1"]
    assert (node.cpu_ns, node.memory, node.timestamp) == (12_500_000_000, 1 << 30, T0 + 10)
    containers = batch.pods[("default", "busy")]
    assert list(containers) == ["burn"]  # no cpu: incomplete, dropped
    c = containers["burn"]
    assert (c.cpu_ns, c.memory, c.timestamp, c.start_time) == (2_999_000_000, 4096, T0 + 9, T0)


def test_failed_summary_decodes_to_nothing() -> None:
    batch = decode(resource_metrics.render(None), "n1", scraped_at=T0)
    assert not batch.nodes and not batch.pods


def test_escaped_labels_and_no_timestamp() -> None:
    text = (
        'container_cpu_usage_seconds_total{container="a",namespace="n\\"s",pod="p"} 1.5\n'
        'container_memory_working_set_bytes{container="a",namespace="n\\"s",pod="p"} 10\n'
        "node_cpu_usage_seconds_total garbage\n"
    )
    batch = decode(text, "n1", scraped_at=42.0)
    point = batch.pods[('n"s', "p")]["a"]
    assert (point.cpu_ns, point.memory, point.timestamp) == (1_500_000_000, 10, 42.0)
    assert not batch.nodes
