"""The ``pyk8s`` command: one binary, one subcommand per component (k3s ``cmd/``).

Each subcommand module exposes ``add_parser(subparsers)`` and sets a coroutine
function ``run(args)`` as the parser default; ``main`` runs it on uvloop. Only the
module of the subcommand given is imported (all of them for ``--help``), so that
``pyk8s server`` does not pay for the image tools' or the proxy's imports.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import logging
import os
import signal
import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import cast

import pyk8s

Command = Callable[[argparse.Namespace], Awaitable[int | None]]

# subcommand -> module under pyk8s.cli, in the order ``--help`` lists them
COMMANDS = {
    "server": "server",
    "apiserver": "apiserver",
    "controller-manager": "controller_manager",
    "image": "image",
    "killall": "killall",
    "kubelet": "kubelet",
    "metrics-server": "metrics_server",
    "proxy": "proxy",
    "registry": "registry",
    "scheduler": "scheduler",
}


def _chosen(argv: Sequence[str]) -> str | None:
    """The subcommand named in ``argv`` (the first word that is not an option)."""
    for word in argv:
        if not word.startswith("-"):
            return word if word in COMMANDS else None
    return None


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The parser; with ``argv``, only the subcommand it names is registered when it names one."""
    parser = argparse.ArgumentParser(prog="pyk8s", description=pyk8s.__doc__)
    parser.add_argument(
        "--version",
        action="version",
        version=f"pyk8s {pyk8s.__version__} (Kubernetes {pyk8s.KUBERNETES_VERSION})",
    )
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    chosen = _chosen(argv) if argv is not None else None
    for name, module in COMMANDS.items():
        if chosen is None or name == chosen:
            importlib.import_module(f"pyk8s.cli.{module}").add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    if argv is None:
        argv = sys.argv[1:]
    if os.environ.get("PYK8S_SUPERVISOR_PID"):  # a component that `pyk8s server` started
        from pyk8s.cluster import supervisor

        supervisor.die_with_parent()
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        sys.exit(2)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose > 1 else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    command = cast(Command, args.func)
    try:
        code = _run(command(args))
    except KeyboardInterrupt:
        code = 130
    sys.exit(code or 0)


def _run(coro: Awaitable[int | None]) -> int | None:
    """Run ``coro`` on uvloop; SIGTERM and SIGINT cancel it, so every component
    unwinds through its ``finally`` (leases released, storage closed)."""
    import uvloop

    async def wrapper() -> int | None:
        task = asyncio.current_task()
        assert task is not None
        loop = asyncio.get_running_loop()
        stopping = False

        def stop(signame: str) -> None:
            nonlocal stopping
            if not stopping:
                stopping = True
                logging.getLogger("pyk8s").info("%s received, shutting down", signame)
                task.cancel()

        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop, sig.name)
        try:
            return await coro
        except asyncio.CancelledError:
            if not stopping:
                raise
            return 0

    return uvloop.run(wrapper())
