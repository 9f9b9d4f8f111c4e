"""``pyk8s image pull NAME`` and ``pyk8s image push NAME [DEST]`` (images/pull.py), with a
``rich`` progress bar per layer when stdout is a terminal."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import TracebackType
from typing import TypeVar

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TransferSpeedColumn,
)

from pyk8s.images import distribution, dockerconfig, pull, reference, registries
from pyk8s.images import progress as progress_mod

T = TypeVar("T")

DEFAULT_REGISTRIES = Path("/etc/pyk8s/registries.yaml")


def add_registry_flags(c: argparse.ArgumentParser) -> None:
    c.add_argument(
        "--insecure", action="store_true", help="allow plain HTTP (docker's insecure-registries)"
    )
    c.add_argument("--creds", default="", metavar="USER:PASSWORD", help="registry credentials")
    c.add_argument(
        "--registry-config",
        default="",
        metavar="FILE",
        help=f"registries.yaml (mirrors, rewrites, auth, TLS; default {DEFAULT_REGISTRIES})",
    )


def add_parsers(cmd: Callable[..., argparse.ArgumentParser]) -> None:
    c = cmd("login", "log in to a registry (stored as docker login stores it)", run_login)
    c.add_argument("server", nargs="?", default="docker.io", metavar="SERVER")
    c.add_argument("-u", "--username", default="")
    c.add_argument("-p", "--password", default="")
    c.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    add_registry_flags(c)
    c = cmd("logout", "forget the login for a registry", run_logout)
    c.add_argument("server", nargs="?", default="docker.io", metavar="SERVER")
    c = cmd("pull", "pull an image from a registry", run_pull)
    c.add_argument("name", metavar="NAME")
    c.add_argument("-q", "--quiet", action="store_true")
    add_registry_flags(c)
    c = cmd("push", "push an image to a registry", run_push)
    c.add_argument("name", metavar="NAME")
    c.add_argument("dest", nargs="?", default="", metavar="DEST", help="push under this name")
    c.add_argument("-q", "--quiet", action="store_true")
    add_registry_flags(c)


async def make_client(args: argparse.Namespace, host_of: str) -> distribution.Client:
    path = Path(args.registry_config) if args.registry_config else DEFAULT_REGISTRIES
    config = await asyncio.to_thread(registries.Registries.load, path, insecure=args.insecure)
    # Credentials: --creds, then registries.yaml, then logins (pyk8s/docker login).
    logins = await asyncio.to_thread(dockerconfig.load)
    creds = {h: a for h, a in logins.items() if config.config_for(h).auth is None}
    if args.creds:
        user, _, password = args.creds.partition(":")
        creds[reference.parse(host_of).domain] = registries.Auth(user, password)
    return distribution.Client(config, credentials=creds)


class RichProgress:
    """One bar per layer, like ``docker pull``."""

    def __init__(self, console: Console) -> None:
        self.bars = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TextColumn("{task.fields[status]}"),
            console=console,
            transient=False,
        )
        self.tasks: dict[str, TaskID] = {}

    def __enter__(self) -> RichProgress:
        self.bars.start()
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.bars.stop()

    def _task(self, key: str, total: int = 0) -> TaskID:
        if key not in self.tasks:
            self.tasks[key] = self.bars.add_task(key, total=total or None, status="")
        return self.tasks[key]

    def start(self, key: str, description: str, total: int) -> None:
        self.bars.update(self._task(key, total), total=total, status="downloading")

    def advance(self, key: str, n: int) -> None:
        if key:
            self.bars.advance(self._task(key), n)

    def finish(self, key: str, status: str) -> None:
        self.bars.update(self._task(key), status=status)


async def _with_progress(
    args: argparse.Namespace, work: Callable[[progress_mod.Progress | None], Awaitable[T]]
) -> T:
    console = Console(file=sys.stdout)
    if console.is_terminal and not args.quiet:
        with RichProgress(console) as bars:
            return await work(bars)
    return await work(None)


def _errors() -> tuple[type[BaseException], ...]:
    from pyk8s.cli import image

    return (pull.PullError, registries.RegistriesError, *pull.FAILURES, *image.ERRORS)


async def run_pull(args: argparse.Namespace) -> int:
    from pyk8s.cli import image

    try:
        store = await asyncio.to_thread(image.open_store, args)
        async with await make_client(args, args.name) as client:
            img = await _with_progress(
                args, lambda p: pull.pull(store, client, args.name, progress=p)
            )
    except _errors() as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(f"Digest: {img.target}")
    print(f"Status: Downloaded newer image for {reference.parse(args.name).familiar()}")
    return 0


async def run_push(args: argparse.Namespace) -> int:
    from pyk8s.cli import image

    dest = args.dest or args.name
    try:
        store = await asyncio.to_thread(image.open_store, args)
        async with await make_client(args, dest) as client:
            digest = await _with_progress(
                args, lambda p: pull.push(store, client, args.name, args.dest, progress=p)
            )
    except _errors() as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(f"{reference.parse(dest).familiar()}: digest: {digest}")
    return 0


def _host(server: str) -> str:
    return dockerconfig.host_key(server)


async def run_login(args: argparse.Namespace) -> int:
    host = _host(args.server)
    user, password = args.username, args.password
    if args.password_stdin:
        password = (await asyncio.to_thread(sys.stdin.read)).rstrip("\n")
    if not user or not password:
        if not sys.stdin.isatty():
            print("error: give --username and --password (or --password-stdin)", file=sys.stderr)
            return 1
        import getpass

        user = user or await asyncio.to_thread(input, "Username: ")
        password = password or await asyncio.to_thread(getpass.getpass, "Password: ")
    path = Path(args.registry_config) if args.registry_config else DEFAULT_REGISTRIES
    try:
        config = await asyncio.to_thread(registries.Registries.load, path, insecure=args.insecure)
        ep = config.endpoints(reference.Reference(host, "library/x", "latest"))[-1]
        creds = {host: registries.Auth(user, password)}
        async with distribution.Client(config, credentials=creds) as client:
            await client.ping(ep)
    except _errors() as e:
        print(f"error: login to {host} failed: {e}", file=sys.stderr)
        return 1
    await asyncio.to_thread(dockerconfig.save, host, user, password)
    print("Login Succeeded")
    return 0


async def run_logout(args: argparse.Namespace) -> int:
    host = _host(args.server)
    if await asyncio.to_thread(dockerconfig.remove, host):
        print(f"Removing login credentials for {host}")
    else:
        print(f"Not logged in to {host}")
    return 0
