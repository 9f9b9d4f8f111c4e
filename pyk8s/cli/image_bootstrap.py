"""``pyk8s image bootstrap NAME...``: base images from Debian packages (images/bootstrap.py)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable
from typing import Any

from pyk8s.images import bootstrap


def add_parsers(cmd: Callable[..., argparse.ArgumentParser]) -> None:
    c = cmd(
        "bootstrap",
        "make busybox, debian, debian:bookworm-slim, nginx or python from Debian packages",
        run_bootstrap,
    )
    c.add_argument("names", nargs="+", metavar="NAME", help=", ".join(bootstrap.BUILDERS))
    c.add_argument("--force", action="store_true", help="rebuild even if present")
    c.add_argument("-q", "--quiet", action="store_true", help="do not show the commands run")


async def run_bootstrap(args: argparse.Namespace) -> int:
    from pyk8s.cli import image

    store = await asyncio.to_thread(image.open_store, args)

    def log(line: str) -> None:
        if not args.quiet:
            print(line, file=sys.stderr, flush=True)

    def work() -> list[Any]:
        return [bootstrap.bootstrap(store, n, log, force=args.force) for n in args.names]

    errors: tuple[type[BaseException], ...] = (bootstrap.BootstrapError, *image.ERRORS)
    try:
        done = await asyncio.to_thread(work)
    except errors as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    for img in done:
        names = ", ".join(n for n in img.names) or img.id
        print(f"{img.id}  {names}")
    return 0
