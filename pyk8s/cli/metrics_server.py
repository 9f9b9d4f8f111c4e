"""``pyk8s metrics-server``: metrics-server alone, joined to a cluster through a kubeconfig
(flags as ``sigs.k8s.io/metrics-server`` ``cmd/metrics-server/app/options``)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pyk8s.client import kubeconfig, rest
from pyk8s.metrics import server
from pyk8s.metrics.config import MetricsServerConfig


def _duration(value: str) -> float:
    from pyk8s.scheduler.config import parse_duration

    try:
        return parse_duration(value)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _bool(value: str) -> bool:
    v = value.lower()
    if v in ("true", "1", "t", "yes"):
        return True
    if v in ("false", "0", "f", "no"):
        return False
    raise argparse.ArgumentTypeError(f"invalid boolean {value!r}: use true or false")


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "metrics-server", help="serve metrics.k8s.io from the kubelets' resource metrics"
    )
    p.add_argument(
        "--kubeconfig",
        default="",
        metavar="FILE",
        help="kubeconfig of the cluster (default $KUBECONFIG, ~/.kube/config)",
    )
    p.add_argument("--secure-port", type=int, default=10260, help="HTTPS port (10260; 0: any)")
    p.add_argument("--bind-address", default="0.0.0.0", help="address to listen on")
    p.add_argument(
        "--advertise-address",
        default="",
        help="the address the metrics-server Service's endpoint names (default: this host's)",
    )
    p.add_argument(
        "--cert-dir",
        default="",
        help="where the self-signed serving certificate is kept (default a directory "
        "next to the kubeconfig)",
    )
    p.add_argument("--metric-resolution", type=_duration, default=15.0, metavar="DURATION",
                   help="how often to scrape the kubelets (15s)")  # fmt: skip
    p.add_argument(
        "--kubelet-insecure-tls",
        type=_bool,
        nargs="?",
        const=True,
        default=True,
        metavar="BOOL",
        help="do not verify kubelets' serving certificates (true)",
    )
    p.add_argument(
        "--kubelet-preferred-address-types",
        default="InternalIP,ExternalIP,Hostname",
        help="node address types to reach kubelets by, in order",
    )
    p.add_argument("--kubelet-request-timeout", type=_duration, default=10.0, metavar="DURATION",
                   help="timeout of one scrape (10s)")  # fmt: skip
    p.add_argument(
        "--no-register",
        action="store_true",
        help="do not create the Service, endpoints, APIService and RBAC objects",
    )
    p.set_defaults(func=run)


async def run(args: argparse.Namespace) -> int:
    try:
        client_config = await kubeconfig.load(args.kubeconfig or None)
    except kubeconfig.ConfigError as e:
        print(f"pyk8s metrics-server: {e}", file=sys.stderr)
        return 1
    cert_dir = Path(args.cert_dir or Path(args.kubeconfig or "./kubeconfig").parent)
    if not args.cert_dir:
        cert_dir = cert_dir / "metrics-server"
    config = MetricsServerConfig(
        cert_dir=cert_dir,
        bind_address=args.bind_address,
        secure_port=args.secure_port,
        advertise_address=args.advertise_address,
        metric_resolution=args.metric_resolution,
        kubelet_insecure_tls=args.kubelet_insecure_tls,
        kubelet_preferred_address_types=tuple(
            t.strip() for t in args.kubelet_preferred_address_types.split(",") if t.strip()
        ),
        kubelet_request_timeout=args.kubelet_request_timeout,
        register=not args.no_register,
    )
    async with rest.Client(client_config, user_agent=server.USER_AGENT) as client:
        await server.run(config, client)
    return 0
