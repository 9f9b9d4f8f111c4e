"""``pyk8s killall``: stop every container of this cluster and remove what it put on the host.

Like ``k3s-killall.sh``: runc containers and their shims, root filesystem and namespace
mounts, network namespaces, cgroups, the service proxy's iptables chains and the host-range
claim of a server that is gone, selected by the cluster's prefix (derived from ``--data-dir``),
so other clusters on the machine are left alone. The data directory stays.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
from pathlib import Path

from pyk8s.cluster import hostranges
from pyk8s.kubelet.runtime import killall, naming
from pyk8s.proxy import config as proxy_config
from pyk8s.proxy.iptables import proxier
from pyk8s.storage.factory import default_data_dir


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("killall", help="stop this cluster's containers; remove its mounts etc.")
    p.add_argument("--data-dir", default="", help="the cluster's state directory")
    p.add_argument(
        "--prefix", default="", help="the cluster prefix to clean (default: from --data-dir)"
    )
    p.set_defaults(func=run)


async def run(args: argparse.Namespace) -> int:
    data_dir = Path(args.data_dir) if args.data_dir else default_data_dir()
    prefix = args.prefix or naming.prefix_for(data_dir)
    await killall.killall(prefix, None if args.prefix else data_dir)
    if shutil.which("iptables-save"):
        chains = proxy_config.chain_prefix_for(prefix)
        if await proxier.cleanup(chains):
            print(f"removed iptables chains {chains}-*")
    if await asyncio.to_thread(hostranges.forget, prefix):
        print(f"removed the host-range claim of {prefix}")
    left = await asyncio.to_thread(killall.leftovers, prefix, None if args.prefix else data_dir)
    for item in left:
        print(f"still present: {item}")
    print(f"killall {prefix}: {'incomplete' if left else 'done'}")
    return 1 if left else 0
