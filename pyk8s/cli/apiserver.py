"""``pyk8s apiserver``: the API server alone, over its own storage (as kubeadm runs it)."""

from __future__ import annotations

import argparse

from pyk8s.cluster import server, settings


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("apiserver", help="run the API server (HTTPS) over the datastore")
    settings.add_storage_flags(p)
    settings.add_apiserver_flags(p)
    p.set_defaults(func=run)


async def run(args: argparse.Namespace) -> int:
    await server.run(settings.ClusterSettings.from_args(args), with_controllers=False)
    return 0
