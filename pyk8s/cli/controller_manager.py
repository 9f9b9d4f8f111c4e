"""``pyk8s controller-manager``: the controllers alone, joined to a cluster by kubeconfig."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from pyk8s.client import rest
from pyk8s.cluster import settings
from pyk8s.controllers import manager
from pyk8s.controllers.config import ControllerManagerConfig


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("controller-manager", help="run the controllers against a cluster")
    p.add_argument("--kubeconfig", default="", help="kubeconfig of the cluster to manage")
    p.add_argument(
        "--controllers",
        action="append",
        help="controllers to run: * (the defaults), NAME, -NAME; comma-separated",
    )
    p.add_argument(
        "--leader-elect",
        default="true",
        choices=("true", "false"),
        help="elect a leader on a Lease before running (default true)",
    )
    p.add_argument("--cluster-cidr", default="10.42.0.0/16", help="pod CIDR of the cluster")
    p.add_argument("--node-cidr-mask-size", type=int, default=24, help="size of each node's CIDR")
    p.add_argument(
        "--root-ca-file",
        default="",
        help="CA published as kube-root-ca.crt (default: kubeconfig's)",
    )
    settings.add_node_lifecycle_flags(p)
    p.add_argument(
        "--service-account-private-key-file",
        default="",
        help="RSA key (PEM) that signs the tokens of service-account token Secrets",
    )
    p.set_defaults(func=run)


async def run(args: argparse.Namespace) -> int:
    config = settings.controller_config(
        args,
        ControllerManagerConfig(
            controllers=list(args.controllers or ["*"]),
            leader_elect=args.leader_elect == "true",
            node_cidr_mask_size=args.node_cidr_mask_size,
        ),
    )
    if args.service_account_private_key_file:
        config.service_account_private_key_file = Path(args.service_account_private_key_file)
    if args.root_ca_file:
        config.root_ca = await asyncio.to_thread(Path(args.root_ca_file).read_bytes)
    manager.enabled_names(config.controllers, manager.controllers())  # fail early on bad names
    async with await rest.Client.from_kubeconfig(
        args.kubeconfig or None, user_agent=manager.USER_AGENT
    ) as client:
        await manager.run(config, client)
    return 0
