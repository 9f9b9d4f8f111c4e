"""``pyk8s kubelet``: the node agent alone, joined to a cluster through a kubeconfig."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pyk8s.client import kubeconfig, rest
from pyk8s.cluster import agent
from pyk8s.kubelet.config import KubeletConfig, apply_kubelet_args
from pyk8s.storage.factory import default_data_dir


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("kubelet", help="run the node agent against a cluster (kubelet)")
    p.add_argument("--kubeconfig", default="", metavar="FILE", help="kubeconfig of the cluster")
    p.add_argument("--data-dir", default="", help="state directory (default /var/lib/pyk8s)")
    p.add_argument("--hostname-override", default="", help="the node's name (default hostname)")
    p.add_argument("--node-ip", default="", help="the node's InternalIP (default: route's)")
    p.add_argument("--port", type=int, default=10250, help="kubelet API port (default 10250)")
    p.add_argument("--client-ca-file", default="", help="CA of clients allowed on the API")
    p.add_argument("--cluster-dns", default="", help="comma-separated DNS server IPs for pods")
    p.add_argument("--cluster-domain", default="cluster.local", help="cluster DNS domain")
    p.add_argument("--node-labels", default="", help="k=v,k2=v2 labels for the node")
    p.add_argument(
        "--pod-manifest-path",
        default="",
        help="static pod manifests (default <data-dir>/manifests)",
    )
    p.add_argument(
        "--container-log-max-size",
        default="10Mi",
        help="rotate a container's log past this size (quantity, default 10Mi)",
    )
    p.add_argument(
        "--container-log-max-files",
        type=int,
        default=5,
        help="log files kept per container, the live one included (default 5)",
    )
    p.set_defaults(func=run)


def config_from_args(args: argparse.Namespace) -> KubeletConfig:
    data_dir = Path(args.data_dir) if args.data_dir else default_data_dir()
    labels = dict(kv.split("=", 1) for kv in args.node_labels.split(",") if "=" in kv)
    cfg = KubeletConfig(
        data_dir=data_dir,
        image_store_root=data_dir / "images",
        port=args.port,
        node_ip=args.node_ip,
        client_ca_file=Path(args.client_ca_file) if args.client_ca_file else None,
        cluster_dns=tuple(s for s in args.cluster_dns.split(",") if s),
        cluster_domain=args.cluster_domain,
        node_labels=labels,
        static_pod_path=Path(args.pod_manifest_path)
        if args.pod_manifest_path
        else data_dir / "manifests",
    )
    try:
        apply_kubelet_args(
            cfg,
            [
                f"container-log-max-size={args.container_log_max_size}",
                f"container-log-max-files={args.container_log_max_files}",
            ],
        )
    except ValueError as e:
        raise SystemExit(str(e)) from None
    if args.hostname_override:
        cfg.node_name = args.hostname_override.lower()
    return cfg


async def run(args: argparse.Namespace) -> int:
    cfg = config_from_args(args)
    try:
        client_config = await kubeconfig.load(args.kubeconfig or None)
    except kubeconfig.ConfigError as e:
        print(f"pyk8s kubelet: {e}", file=sys.stderr)
        return 1
    async with rest.Client(client_config, user_agent="kubelet/pyk8s") as client:
        await agent.run(cfg, client, import_images=True)
    return 0
