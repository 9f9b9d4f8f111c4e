"""``pyk8s image build``: build an image from a Dockerfile (images/build/builder.py)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable
from pathlib import Path

from pyk8s.images import pull
from pyk8s.images.build import builder, dockerfile


def add_parsers(cmd: Callable[..., argparse.ArgumentParser]) -> None:
    from pyk8s.cli import image_pull

    c = cmd("build", "build an image from a Dockerfile", run_build)
    c.add_argument("context", metavar="CONTEXT", help="the build context directory")
    c.add_argument("-t", "--tag", action="append", default=[], metavar="NAME[:TAG]")
    c.add_argument(
        "-f", "--file", default="", metavar="DOCKERFILE", help="default CONTEXT/Dockerfile"
    )
    c.add_argument("--build-arg", action="append", default=[], metavar="KEY=VALUE")
    c.add_argument("--target", default="", help="build up to this stage")
    c.add_argument("--no-cache", action="store_true", help="do not use the layer cache")
    c.add_argument("-q", "--quiet", action="store_true", help="print only the image ID")
    image_pull.add_registry_flags(c)


async def run_build(args: argparse.Namespace) -> int:
    from pyk8s.cli import image, image_pull

    errors: tuple[type[BaseException], ...] = (
        builder.BuildError,
        dockerfile.DockerfileError,
        pull.PullError,
        *pull.FAILURES,
        *image.ERRORS,
    )
    context = Path(args.context)
    build_args = {}
    for kv in args.build_arg:
        k, sep, v = kv.partition("=")
        build_args[k] = v if sep else ""
    opts = builder.Options(
        context=context,
        dockerfile=Path(args.file) if args.file else None,
        tags=args.tag,
        build_args=build_args,
        target=args.target,
        no_cache=args.no_cache,
    )

    def output(line: str) -> None:
        if not args.quiet:
            print(line, flush=True)

    try:
        store = await asyncio.to_thread(image.open_store, args)
        if not await asyncio.to_thread(context.is_dir):
            print(f"error: build context {context} is not a directory", file=sys.stderr)
            return 1
        text = await asyncio.to_thread((opts.dockerfile or context / "Dockerfile").read_text)
        df = dockerfile.parse(text, str(opts.dockerfile or "Dockerfile"))
        bases = builder.base_images(df, build_args)
        if bases:
            async with await image_pull.make_client(args, bases[0]) as client:
                for base in bases:
                    await pull.ensure(store, client, base)

        def work() -> str:
            b = builder.Builder(store, opts, output)
            try:
                return b.build().id
            finally:
                b.close()

        ident = await asyncio.to_thread(work)
    except FileNotFoundError as e:
        print(f"error: {e.filename}: no such file", file=sys.stderr)
        return 1
    except errors as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    if args.quiet:
        print(ident)
    return 0
