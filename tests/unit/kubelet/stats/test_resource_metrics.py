"""``/metrics/resource`` rendered from a summary, as upstream's resource metrics collector."""

from __future__ import annotations

from pyk8s.kubelet.stats import resource_metrics

T = "2026-11-23T12:00:00Z"
MS = 1795435200000


def _summary() -> dict[str, object]:
    return {
        "node": {
            "cpu": {"time": T, "usageCoreNanoSeconds": 2_500_000_000},
            "memory": {"time": T, "workingSetBytes": 1024},
        },
        "pods": [
            {
                "podRef": {"name": "web", "namespace": "default", "uid": "u"},
                "cpu": {"time": T, "usageCoreNanoSeconds": 1_000_000_000},
                "memory": {"time": T, "workingSetBytes": 300},
                "containers": [
                    {
                        "name": "nginx",
                        "startTime": T,
                        "cpu": {"time": T, "usageCoreNanoSeconds": 250_000_000},
                        "memory": {"time": T, "workingSetBytes": 200},
                    },
                    {"name": "starting", "startTime": T, "cpu": {}, "memory": {}},
                ],
            }
        ],
    }


def test_figures_with_their_labels_and_sample_times() -> None:
    text = resource_metrics.render(_summary())
    lines = text.splitlines()
    assert f"node_cpu_usage_seconds_total 2.5 {MS}" in lines
    assert f"node_memory_working_set_bytes 1024 {MS}" in lines
    c = '{container="nginx",pod="web",namespace="default"}'
    assert f"container_cpu_usage_seconds_total{c} 0.25 {MS}" in lines
    assert f"container_memory_working_set_bytes{c} 200 {MS}" in lines
    assert f"container_start_time_seconds{c} {MS // 1000}" in lines
    assert f'pod_cpu_usage_seconds_total{{pod="web",namespace="default"}} 1 {MS}' in lines
    assert f'pod_memory_working_set_bytes{{pod="web",namespace="default"}} 300 {MS}' in lines
    assert "resource_scrape_error 0" in lines and "scrape_error 0" in lines
    # a container with no figures yet gets only its start time
    assert [ln for ln in lines if '"starting"' in ln] == [
        f'container_start_time_seconds{{container="starting",pod="web",namespace="default"}} '
        f"{MS // 1000}"
    ]


def test_help_and_type_precede_each_metric() -> None:
    lines = resource_metrics.render(_summary()).splitlines()
    i = lines.index("# TYPE container_cpu_usage_seconds_total counter")
    assert lines[i - 1] == (
        "# HELP container_cpu_usage_seconds_total [STABLE] "
        "Cumulative cpu time consumed by the container in core-seconds"
    )
    assert lines[i + 1].startswith("container_cpu_usage_seconds_total{")
    assert "# TYPE node_memory_working_set_bytes gauge" in lines


def test_a_failed_summary_is_a_scrape_error() -> None:
    text = resource_metrics.render(None)
    assert "resource_scrape_error 1" in text.splitlines()
    assert "node_cpu_usage_seconds_total" not in text


def test_label_values_are_escaped() -> None:
    s = _summary()
    s["pods"][0]["podRef"]["name"] = 'we"b'  # type: ignore[index]
    assert 'pod="we\\"b"' in resource_metrics.render(s)
