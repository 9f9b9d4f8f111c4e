"""``pyk8s registry``: serve the image store over the distribution API v2 (images/registry.py)."""

from __future__ import annotations

import argparse
import asyncio
import logging
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
    await registry.serve(store, args.bind_address, args.port, users=users)
    return 0
