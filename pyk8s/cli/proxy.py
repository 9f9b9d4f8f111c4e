"""``pyk8s proxy``: the service proxy alone (kube-proxy in iptables mode), through a kubeconfig."""

from __future__ import annotations

import argparse
import socket
import sys
from pathlib import Path

from pyk8s.client import kubeconfig, rest
from pyk8s.kubelet.runtime import naming
from pyk8s.proxy import server
from pyk8s.proxy.config import ProxyConfig, chain_prefix_for
from pyk8s.storage.factory import default_data_dir


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("proxy", help="run the service proxy against a cluster (kube-proxy)")
    p.add_argument("--kubeconfig", default="", metavar="FILE", help="kubeconfig of the cluster")
    p.add_argument(
        "--data-dir",
        default="",
        help="the node's state directory; names the iptables chains (default /var/lib/pyk8s)",
    )
    p.add_argument("--hostname-override", default="", help="the node's name (default hostname)")
    p.add_argument("--cluster-cidr", default="10.42.0.0/16", help="the pods' range")
    p.add_argument(
        "--chain-prefix", default="", help="prefix of our iptables chains (default from data dir)"
    )
    p.add_argument(
        "--nodeport-addresses",
        default="",
        help="comma-separated node IPs NodePorts answer on (default: every local address)",
    )
    p.add_argument("--masquerade-bit", type=int, default=14, help="fwmark bit for SNAT (14)")
    p.add_argument("--masquerade-all", action="store_true", help="SNAT all Service traffic")
    p.add_argument("--min-sync-period", type=float, default=0.1, help="seconds (default 0.1)")
    p.add_argument("--sync-period", type=float, default=30.0, help="seconds (default 30)")
    p.set_defaults(func=run)


def config_from_args(args: argparse.Namespace) -> ProxyConfig:
    data_dir = Path(args.data_dir) if args.data_dir else default_data_dir()
    return ProxyConfig(
        node_name=(args.hostname_override or socket.gethostname()).lower(),
        chain_prefix=args.chain_prefix or chain_prefix_for(naming.prefix_for(data_dir)),
        cluster_cidr=args.cluster_cidr,
        node_ips=tuple(a for a in args.nodeport_addresses.split(",") if a),
        masquerade_bit=args.masquerade_bit,
        masquerade_all=args.masquerade_all,
        sync_period=args.sync_period,
        min_sync_period=args.min_sync_period,
    )


async def run(args: argparse.Namespace) -> int:
    try:
        cfg = config_from_args(args)
        client_config = await kubeconfig.load(args.kubeconfig or None)
    except (ValueError, kubeconfig.ConfigError) as e:
        print(f"pyk8s proxy: {e}", file=sys.stderr)
        return 1
    async with rest.Client(client_config, user_agent="kube-proxy/pyk8s") as client:
        await server.run(cfg, client)
    return 0
