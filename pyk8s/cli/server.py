"""``pyk8s server``: the control plane (and, later, this machine's node agent)."""

from __future__ import annotations

import argparse
import sys

from pyk8s.cluster import hostranges, server, settings


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("server", help="run a server: storage, API server, controllers, agent")
    settings.add_storage_flags(p)
    settings.add_apiserver_flags(p)
    settings.add_registry_flags(p)
    settings.add_component_flags(p)
    p.set_defaults(func=run)


async def run(args: argparse.Namespace) -> int:
    try:
        await server.run(settings.ClusterSettings.from_args(args))
    except hostranges.ClashError as e:
        print(f"pyk8s server: {e}", file=sys.stderr)
        return 1
    return 0
