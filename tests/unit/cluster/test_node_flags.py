"""The node lifecycle and DefaultTolerationSeconds flags of ``pyk8s server``."""

from __future__ import annotations

import argparse

import pytest

from pyk8s.cluster import settings


def _server_args(*argv: str) -> argparse.Namespace:
    p = argparse.ArgumentParser()
    settings.add_storage_flags(p)
    settings.add_apiserver_flags(p)
    settings.add_registry_flags(p)
    settings.add_component_flags(p)
    return p.parse_args(list(argv))


def test_defaults_are_upstreams() -> None:
    s = settings.ClusterSettings.from_args(_server_args())
    assert s.controllers is not None
    assert (
        s.controllers.node_monitor_period,
        s.controllers.node_monitor_grace_period,
        s.controllers.node_startup_grace_period,
        s.controllers.node_eviction_rate,
    ) == (5.0, 50.0, 60.0, 0.1)
    assert s.apiserver.default_not_ready_toleration_seconds == 300
    assert s.apiserver.default_unreachable_toleration_seconds == 300


def test_go_durations_and_seconds() -> None:
    s = settings.ClusterSettings.from_args(
        _server_args(
            "--node-monitor-period=500ms",
            "--node-monitor-grace-period=1m30s",
            "--node-startup-grace-period=0s",
            "--node-eviction-rate=2",
            "--default-unreachable-toleration-seconds=30",
        )
    )
    assert s.controllers is not None
    assert s.controllers.node_monitor_period == 0.5
    assert s.controllers.node_monitor_grace_period == 90.0
    assert s.controllers.node_startup_grace_period == 0.0
    assert s.controllers.node_eviction_rate == 2.0
    assert s.apiserver.default_unreachable_toleration_seconds == 30
    assert s.apiserver.default_not_ready_toleration_seconds == 300


def test_a_bad_duration_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        _server_args("--node-monitor-grace-period=forty")
    assert "invalid duration 'forty'" in capsys.readouterr().err


def test_service_lb_pool_reaches_the_controllers() -> None:
    s = settings.ClusterSettings.from_args(
        _server_args("--service-lb-pool", "192.168.50.10-192.168.50.20, 10.9.0.0/30")
    )
    assert s.controllers is not None
    assert s.controllers.service_lb_pool == ("192.168.50.10-192.168.50.20", "10.9.0.0/30")
    with pytest.raises(SystemExit, match="--service-lb-pool"):
        settings.ClusterSettings.from_args(_server_args("--service-lb-pool", "nonsense"))


def test_components_run_as_child_processes_unless_asked_otherwise() -> None:
    assert settings.ClusterSettings.from_args(_server_args()).component_processes
    s = settings.ClusterSettings.from_args(_server_args("--in-process-components"))
    assert not s.component_processes
    assert not settings.ClusterSettings().component_processes  # code that embeds a server
