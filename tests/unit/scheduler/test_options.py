"""``pyk8s scheduler`` flags combined with ``--config``, as kube-scheduler's options do."""

from __future__ import annotations

from pathlib import Path

import pytest

from pyk8s import cli
from pyk8s.cli import scheduler as scheduler_cmd
from pyk8s.scheduler import config, options

MY_SCHEDULER = """
apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
clientConnection: {kubeconfig: /etc/file.conf}
leaderElection: {leaderElect: true, resourceName: from-file}
profiles:
- schedulerName: my-scheduler
"""


def parse(*argv: str) -> options.Options:
    args = cli.build_parser().parse_args(["scheduler", *argv])
    return scheduler_cmd.options_from_args(args)


def test_defaults_without_flags() -> None:
    cfg = options.complete(parse())
    assert [p.scheduler_name for p in cfg.profiles] == ["default-scheduler"]
    le = cfg.leader_election
    assert (le.leader_elect, le.resource_namespace, le.resource_name) == (
        True,
        "kube-system",
        "kube-scheduler",
    )
    assert (le.lease_duration, le.renew_deadline, le.retry_period) == (15.0, 10.0, 2.0)


def test_flags_without_config() -> None:
    cfg = options.complete(
        parse(
            "--kubeconfig=/k.conf",
            "--leader-elect=false",
            "--scheduler-name=my-custom-scheduler",
            "--lock-object-name=my-custom-scheduler",
        )
    )
    assert [p.scheduler_name for p in cfg.profiles] == ["my-custom-scheduler"]
    assert cfg.leader_election.leader_elect is False
    assert cfg.leader_election.resource_name == "my-custom-scheduler"
    assert cfg.kubeconfig == "/k.conf"


def test_bare_leader_elect_flag_means_true() -> None:
    assert parse("--leader-elect").leader_elect is True
    assert parse().leader_elect is None


def test_config_file_with_leader_election_flags(tmp_path: Path) -> None:
    f = tmp_path / "sched.yaml"
    f.write_text(MY_SCHEDULER)
    cfg = options.complete(
        parse(
            f"--config={f}",
            "--leader-elect-lease-duration=30s",
            "--leader-elect-renew-deadline=20s",
            "--lock-object-name=ignored-with-config",
        )
    )
    assert [p.scheduler_name for p in cfg.profiles] == ["my-scheduler"]
    assert cfg.leader_election.resource_name == "from-file"
    assert (cfg.leader_election.lease_duration, cfg.leader_election.renew_deadline) == (30, 20)
    assert cfg.kubeconfig == "/etc/file.conf"
    cfg = options.complete(parse(f"--config={f}", "--kubeconfig=/flag.conf"))
    assert cfg.kubeconfig == "/flag.conf"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        pytest.param(
            ("--leader-elect-lease-duration=5s",),
            "leaderElection.leaseDuration: Invalid value: 5.0: LeaseDuration must be greater "
            "than RenewDeadline",
            id="lease-shorter-than-renew",
        ),
        pytest.param(
            ("--leader-elect-resource-lock=endpoints",),
            'leaderElection.resourceLock: Unsupported value: "endpoints"',
            id="lock-kind",
        ),
        pytest.param(
            ("--leader-elect-resource-namespace=",),
            "leaderElection.resourceNamespace: Required value",
            id="no-namespace",
        ),
        pytest.param(("--scheduler-name=",), "profiles[0].schedulerName: Required", id="name"),
    ],
)
def test_bad_flags_name_the_field(argv: tuple[str, ...], message: str) -> None:
    with pytest.raises(config.ConfigError) as e:
        options.complete(parse(*argv))
    assert message in str(e.value)


def test_leader_election_off_skips_its_checks() -> None:
    cfg = options.complete(parse("--leader-elect=false", "--leader-elect-lease-duration=1s"))
    assert cfg.leader_election.leader_elect is False


def test_bad_duration_and_bool_are_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    for bad in ("--leader-elect-retry-period=soon", "--leader-elect=maybe"):
        with pytest.raises(SystemExit) as e:
            parse(bad)
        assert e.value.code == 2
    err = capsys.readouterr().err
    assert "invalid duration 'soon'" in err and "invalid boolean 'maybe'" in err


def test_invalid_config_file_stops_start_up(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    f = tmp_path / "bad.yaml"
    f.write_text(MY_SCHEDULER.replace("schedulerName", "schedulerNam"))
    with pytest.raises(SystemExit) as e:
        cli.main(["scheduler", f"--config={f}", "--kubeconfig=/nonexistent"])
    assert e.value.code == 1
    err = capsys.readouterr().err
    assert 'unknown field "profiles[0].schedulerNam"' in err


def test_missing_kubeconfig_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as e:
        cli.main(["scheduler", f"--kubeconfig={tmp_path / 'none.conf'}"])
    assert e.value.code == 1
    assert "no kubeconfig found at" in capsys.readouterr().err


def test_the_seed_custom_scheduler_command_line_is_accepted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The kube-scheduler flags of the seed's my-custom-scheduler manifest (1.11 era)."""
    cfg = options.complete(
        parse(
            "--address=127.0.0.1",
            "--kubeconfig=/etc/kubernetes/scheduler.conf",
            "--leader-elect=true",
            "--scheduler-name=my-custom-scheduler",
            "--lock-object-name=my-custom-scheduler",
        )
    )
    assert [p.scheduler_name for p in cfg.profiles] == ["my-custom-scheduler"]
    assert cfg.leader_election.resource_name == "my-custom-scheduler"
    assert "--address has no effect" in caplog.text


def test_a_non_zero_insecure_port_is_refused() -> None:
    assert options.complete(parse("--port=0")).profiles
    with pytest.raises(config.ConfigError, match=r"port: .*invalid port value 10251"):
        options.complete(parse("--port=10251"))


def test_a_resource_lock_in_the_file_is_checked(tmp_path: Path) -> None:
    f = tmp_path / "sched.yaml"
    f.write_text(MY_SCHEDULER.replace("resourceName: from-file", "resourceLock: endpoints"))
    with pytest.raises(config.ConfigError) as e:
        options.complete(parse(f"--config={f}"))
    assert 'leaderElection.resourceLock: Unsupported value: "endpoints"' in str(e.value)
    f.write_text(MY_SCHEDULER.replace("resourceName: from-file", "resourceLock: leases"))
    assert options.complete(parse(f"--config={f}")).leader_election.resource_lock == "leases"
