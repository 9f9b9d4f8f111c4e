"""``pyk8s scheduler``: the scheduler alone, joined to a cluster through a kubeconfig
(as kubeadm runs kube-scheduler; flags as ``cmd/kube-scheduler/app/options``)."""

from __future__ import annotations

import argparse
import asyncio
import sys

from pyk8s.client import kubeconfig, rest
from pyk8s.scheduler import config, options, server


def _bool(value: str) -> bool:
    v = value.lower()
    if v in ("true", "1", "t", "yes"):
        return True
    if v in ("false", "0", "f", "no"):
        return False
    raise argparse.ArgumentTypeError(f"invalid boolean {value!r}: use true or false")


def _duration(value: str) -> float:
    try:
        return config.parse_duration(value)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("scheduler", help="run the scheduler against a cluster (kube-scheduler)")
    p.add_argument("--config", default="", metavar="FILE", help="a KubeSchedulerConfiguration file")
    p.add_argument(
        "--kubeconfig",
        default="",
        metavar="FILE",
        help="kubeconfig of the cluster (default: the file's clientConnection.kubeconfig, "
        "$KUBECONFIG, ~/.kube/config, then in-cluster)",
    )
    p.add_argument(
        "--master", default="", metavar="URL", help="API server address (overrides the kubeconfig)"
    )
    le = p.add_argument_group("leader election")
    le.add_argument(
        "--leader-elect",
        nargs="?",
        const=True,
        metavar="BOOL",
        default=None,
        type=_bool,
        help="elect a leader before scheduling (default true)",
    )
    for flag, dest, what in (
        ("--leader-elect-lease-duration", "lease_duration", "how long a lease lasts (15s)"),
        ("--leader-elect-renew-deadline", "renew_deadline", "renew within this (10s)"),
        ("--leader-elect-retry-period", "retry_period", "wait between tries (2s)"),
    ):
        le.add_argument(
            flag, dest=dest, type=_duration, default=None, metavar="DURATION", help=what
        )
    le.add_argument(
        "--leader-elect-resource-lock",
        dest="resource_lock",
        default=None,
        metavar="LOCK",
        help="leases",
    )
    le.add_argument(
        "--leader-elect-resource-name",
        dest="resource_name",
        default=None,
        metavar="NAME",
        help="the Lease's name (default kube-scheduler)",
    )
    le.add_argument(
        "--leader-elect-resource-namespace",
        dest="resource_namespace",
        default=None,
        metavar="NAMESPACE",
        help="the Lease's namespace (default kube-system)",
    )
    dep = p.add_argument_group("deprecated (ignored with --config)")
    dep.add_argument("--lock-object-name", default=None, help="see --leader-elect-resource-name")
    dep.add_argument(
        "--lock-object-namespace", default=None, help="see --leader-elect-resource-namespace"
    )
    dep.add_argument(
        "--scheduler-name", default=None, help="the name of the default profile (removed in 1.23)"
    )
    dep.add_argument(
        "--address",
        default=None,
        metavar="IP",
        help="no effect (the insecure port is gone; removed in 1.24)",
    )
    dep.add_argument(
        "--port",
        default=None,
        type=int,
        metavar="PORT",
        help="only 0 is allowed (the insecure port is gone; removed in 1.24)",
    )
    p.set_defaults(func=run)


def options_from_args(args: argparse.Namespace) -> options.Options:
    return options.Options(
        config_file=args.config,
        kubeconfig=args.kubeconfig,
        master=args.master,
        leader_elect=args.leader_elect,
        lease_duration=args.lease_duration,
        renew_deadline=args.renew_deadline,
        retry_period=args.retry_period,
        resource_lock=args.resource_lock,
        resource_name=args.resource_name,
        resource_namespace=args.resource_namespace,
        lock_object_name=args.lock_object_name,
        lock_object_namespace=args.lock_object_namespace,
        scheduler_name=args.scheduler_name,
        address=args.address,
        port=args.port,
    )


async def run(args: argparse.Namespace) -> int:
    opts = options_from_args(args)
    try:
        cfg = await asyncio.to_thread(options.complete, opts)
    except config.ConfigError as e:
        print(f"pyk8s scheduler: invalid configuration: {e}", file=sys.stderr)
        return 1
    try:
        client_config = await kubeconfig.load(cfg.kubeconfig or None)
    except kubeconfig.ConfigError as e:
        print(f"pyk8s scheduler: {e}", file=sys.stderr)
        return 1
    if opts.master:
        client_config.server = opts.master
    async with rest.Client(client_config, user_agent=server.USER_AGENT) as client:
        await server.run(cfg, client)
    # run returns only when the lease is lost: exit non-zero, as kube-scheduler does
    return 1
