"""``pyk8s registry``: serve the image store over the distribution API v2 (images/registry.py)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path

from pyk8s.images import registry


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("registry", help="serve the image store as a registry (distribution API v2)")
    p.add_argument("--data-dir", default="", help="state directory (default /var/lib/pyk8s)")
    p.add_argument("--bind-address", default="0.0.0.0", help="address to listen on")
    p.add_argument("--port", type=int, default=5000, help="port (default 5000)")
    p.add_argument(
        "--auth-file", default="", metavar="FILE", help="user:password lines; basic auth when set"
    )
    p.add_argument("--tls-cert-file", default="", help="serve HTTPS with this certificate")
    p.add_argument("--tls-private-key-file", default="", help="the certificate's key")
    p.set_defaults(func=run)


async def run(args: argparse.Namespace) -> int:
    from pyk8s.cli import image

    store = await asyncio.to_thread(image.open_store, args)
    users = None
    if args.auth_file:
        users = await asyncio.to_thread(registry.load_users, Path(args.auth_file))
    logging.getLogger("pyk8s.registry").info(
        "registry: serving %s on %s:%d", store.root, args.bind_address, args.port
    )
    tls = None
    if args.tls_cert_file or args.tls_private_key_file:
        if not (args.tls_cert_file and args.tls_private_key_file):
            print("error: --tls-cert-file and --tls-private-key-file go together", file=sys.stderr)
            return 1
        tls = (Path(args.tls_cert_file), Path(args.tls_private_key_file))
    await registry.serve(store, args.bind_address, args.port, users=users, tls=tls)
    return 0
