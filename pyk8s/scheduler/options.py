"""The scheduler's command-line options and how they combine with ``--config``.

Mirrors ``cmd/kube-scheduler/app/options/options.go`` (``ApplyTo``: without
``--config`` the defaults plus the deprecated and leader-election flags; with it,
the file plus only the leader-election flags that were given) and
``deprecated.go`` (``--lock-object-name`` / ``--lock-object-namespace``, ignored
when a file is given; ``--address`` and ``--port``, the insecure port's flags that
1.23 still took as no-ops, so the kubeadm manifests of older notes start).
``--scheduler-name``, removed upstream in 1.23 but still in many notes, names the
single default profile when there is no file. The leader-election settings are then
checked as ``component-base/config/validation`` ``ValidateLeaderElectionConfiguration`` does.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from pyk8s.scheduler import config
from pyk8s.scheduler.plugins.registry import IN_TREE

log = logging.getLogger(__name__)


@dataclass
class Options:
    """What the command line said; ``None`` means the flag was not given."""

    config_file: str = ""
    kubeconfig: str = ""
    master: str = ""
    leader_elect: bool | None = None
    lease_duration: float | None = None
    renew_deadline: float | None = None
    retry_period: float | None = None
    resource_lock: str | None = None
    resource_name: str | None = None
    resource_namespace: str | None = None
    lock_object_name: str | None = None
    lock_object_namespace: str | None = None
    scheduler_name: str | None = None
    address: str | None = None
    port: int | None = None


def complete(opts: Options) -> config.KubeSchedulerConfiguration:
    """The configuration to run with, or ConfigError naming the bad field.

    Blocking (reads ``--config``): call it in a thread.
    """
    if opts.config_file:
        cfg = config.load(opts.config_file)
        ignored = [
            flag
            for flag, value in (
                ("--lock-object-name", opts.lock_object_name),
                ("--lock-object-namespace", opts.lock_object_namespace),
                ("--scheduler-name", opts.scheduler_name),
            )
            if value is not None
        ]
        if ignored:
            log.warning("%s ignored: --config is given", ", ".join(ignored))
    else:
        cfg = config.KubeSchedulerConfiguration()
        if opts.scheduler_name is not None:
            cfg.profiles = [config.default_profile(opts.scheduler_name)]
        if opts.lock_object_name is not None:
            cfg.leader_election.resource_name = opts.lock_object_name
        if opts.lock_object_namespace is not None:
            cfg.leader_election.resource_namespace = opts.lock_object_namespace
    if opts.address is not None:
        log.warning(
            "--address has no effect now and was removed in v1.24; use --bind-address instead"
        )
    apply_leader_election(opts, cfg)
    if opts.kubeconfig:
        cfg.kubeconfig = opts.kubeconfig
    errors = validate_leader_election(cfg.leader_election, opts.resource_lock)
    if not opts.config_file and opts.scheduler_name == "":
        errors.append("profiles[0].schedulerName: Required value")
    if opts.port:
        errors.append(f"port: Required value: invalid port value {opts.port}: only zero is allowed")
    if errors:
        raise config.ConfigError(errors)
    config.check_frameworks(cfg, IN_TREE)
    return cfg


def apply_leader_election(opts: Options, cfg: config.KubeSchedulerConfiguration) -> None:
    """The leader-election flags that were given override the configuration."""
    le = cfg.leader_election
    if opts.leader_elect is not None:
        le.leader_elect = opts.leader_elect
    if opts.lease_duration is not None:
        le.lease_duration = opts.lease_duration
    if opts.renew_deadline is not None:
        le.renew_deadline = opts.renew_deadline
    if opts.retry_period is not None:
        le.retry_period = opts.retry_period
    if opts.resource_name is not None:
        le.resource_name = opts.resource_name
    if opts.resource_namespace is not None:
        le.resource_namespace = opts.resource_namespace


def validate_leader_election(le: config.LeaderElection, resource_lock: str | None) -> list[str]:
    if not le.leader_elect:
        return []
    errors: list[str] = []
    path = "leaderElection"
    if le.lease_duration <= 0:
        errors.append(f"{path}.leaseDuration: Invalid value: {le.lease_duration}: must be > 0")
    if le.renew_deadline <= 0:
        errors.append(f"{path}.renewDeadline: Invalid value: {le.renew_deadline}: must be > 0")
    if le.retry_period <= 0:
        errors.append(f"{path}.retryPeriod: Invalid value: {le.retry_period}: must be > 0")
    if le.lease_duration <= le.renew_deadline:
        errors.append(
            f"{path}.leaseDuration: Invalid value: {le.lease_duration}: LeaseDuration must be "
            "greater than RenewDeadline"
        )
    lock = resource_lock if resource_lock is not None else le.resource_lock
    if lock != "leases":
        errors.append(
            f'{path}.resourceLock: Unsupported value: "{lock}": supported values: "leases"'
        )
    if not le.resource_name:
        errors.append(f"{path}.resourceName: Required value: resourceName is required")
    if not le.resource_namespace:
        errors.append(f"{path}.resourceNamespace: Required value: resourceNamespace is required")
    return errors
