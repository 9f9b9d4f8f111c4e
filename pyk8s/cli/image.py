"""``pyk8s image ...``: the image store from the command line, shaped like ``docker image``.

Every subcommand takes ``--data-dir`` (the store is ``<data-dir>/images``). Store calls block,
so each runs in a thread.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

import orjson

from pyk8s.cli import units
from pyk8s.images import archive, blobs, layers, manifest, reference
from pyk8s.images import store as store_mod
from pyk8s.storage.factory import default_data_dir

T = TypeVar("T")

ERRORS: tuple[type[BaseException], ...] = (
    store_mod.ImageNotFound,
    store_mod.AmbiguousImage,
    reference.InvalidReference,
    archive.ArchiveError,
    layers.LayerError,
    manifest.ManifestError,
    blobs.DigestMismatch,
    blobs.BlobNotFound,
    OSError,
)


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("image", help="manage images: import, export, list, build, pull, push")
    isub = p.add_subparsers(dest="image_command", metavar="COMMAND", required=True)

    def cmd(
        name: str, help: str, func: Callable[..., Any], aliases: Sequence[str] = ()
    ) -> argparse.ArgumentParser:
        c: argparse.ArgumentParser = isub.add_parser(name, help=help, aliases=list(aliases))
        c.add_argument("--data-dir", default="", help="state directory (default /var/lib/pyk8s)")
        c.set_defaults(func=func)
        return c

    c = cmd("import", "import docker save or OCI layout tarballs", run_import, ["load"])
    c.add_argument("files", nargs="*", metavar="FILE", help="default (or -): standard input")
    c.add_argument("-i", "--input", action="append", default=[], metavar="FILE")
    c = cmd("export", "write images to a tarball (OCI layout + docker save)", run_export, ["save"])
    c.add_argument("names", nargs="+", metavar="NAME")
    c.add_argument("-o", "--output", default="", metavar="FILE", help="default: standard output")
    c = cmd("list", "list images", run_list, ["ls", "images"])
    c.add_argument("-q", "--quiet", action="store_true", help="only image IDs")
    c.add_argument("--digests", action="store_true", help="show digests")
    c.add_argument("--no-trunc", action="store_true", help="do not truncate IDs")
    c.add_argument("repository", nargs="?", default="", help="only this repository")
    c = cmd("inspect", "show images as JSON", run_inspect)
    c.add_argument("names", nargs="+", metavar="NAME")
    c = cmd("tag", "add a name to an image", run_tag)
    c.add_argument("source", metavar="SOURCE")
    c.add_argument("target", metavar="TARGET")
    c = cmd("rm", "remove image names (and the content no name reaches)", run_rm, ["rmi"])
    c.add_argument("names", nargs="+", metavar="NAME")
    c.add_argument("-f", "--force", action="store_true", help="remove every name of an ID")
    c = cmd("prune", "remove blobs and layers no image uses", run_prune)
    c.add_argument("--dry-run", action="store_true")
    c.add_argument("--build-cache", action="store_true", help="also drop the build cache")
    c = cmd("history", "show the history of an image", run_history)
    c.add_argument("name", metavar="NAME")
    c.add_argument("--no-trunc", action="store_true")
    c.add_argument("-H", "--human", default=True, action=argparse.BooleanOptionalAction)
    cmd("df", "show the store's disk usage", run_df)
    _add_more(isub, cmd)


def _add_more(
    isub: argparse._SubParsersAction[argparse.ArgumentParser],
    cmd: Callable[..., argparse.ArgumentParser],
) -> None:
    """Subcommands living in their own modules (bootstrap, pull/push, build)."""
    from pyk8s.cli import image_bootstrap, image_build, image_pull

    image_bootstrap.add_parsers(cmd)
    image_pull.add_parsers(cmd)
    image_build.add_parsers(cmd)


def open_store(args: argparse.Namespace) -> store_mod.Store:
    data_dir = Path(args.data_dir) if args.data_dir else default_data_dir()
    return store_mod.Store(data_dir / "images")


def guarded(func: Callable[[argparse.Namespace], Any]) -> Callable[[argparse.Namespace], Any]:
    """Turn expected failures into one ``error:`` line and exit code 1."""

    @functools.wraps(func)
    async def wrapper(args: argparse.Namespace) -> int:
        try:
            return int(await func(args) or 0)
        except ERRORS as e:
            print(f"error: {e}", file=sys.stderr)
            return 1

    return wrapper


async def _t(func: Callable[..., T], *args: Any, **kw: Any) -> T:
    return await asyncio.to_thread(func, *args, **kw)


def table(headers: list[str], rows: list[list[str]], pad: int = 3) -> str:
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(c)) for w, c in zip(widths, row, strict=True)]
    lines = []
    for row in [headers, *rows]:
        cells = [c.ljust(w + pad) for c, w in zip(row[:-1], widths, strict=False)]
        lines.append(("".join(cells) + row[-1]).rstrip())
    return "\n".join(lines)


def short_id(digest: str, no_trunc: bool = False) -> str:
    return digest if no_trunc else digest.removeprefix("sha256:")[:12]


@guarded
async def run_import(args: argparse.Namespace) -> int:
    store = await _t(open_store, args)
    sources = [*args.input, *args.files] or ["-"]
    for f in sources:
        if f == "-":
            if sys.stdin.isatty():
                print("error: no tarball given and standard input is a terminal", file=sys.stderr)
                return 1
            src: Path | BinaryIO = sys.stdin.buffer
        else:
            src = Path(f)
        for imp in await _t(archive.import_archive, store, src):
            if imp.names:
                for name in imp.names:
                    print(f"Loaded image: {reference.parse(name).familiar()}")
            else:
                print(f"Loaded image ID: {imp.image.id}")
    return 0


@guarded
async def run_export(args: argparse.Namespace) -> int:
    store = await _t(open_store, args)
    if args.output and args.output != "-":
        await _t(archive.export_archive, store, args.names, Path(args.output))
        return 0
    if sys.stdout.isatty():
        print("error: refusing to write a tarball to a terminal; use -o FILE", file=sys.stderr)
        return 1
    sys.stdout.flush()
    await _t(archive.export_archive, store, args.names, sys.stdout.buffer)
    return 0


def _list_rows(store: store_mod.Store, args: argparse.Namespace) -> list[list[str]]:
    """Rows newest first, as ``docker images`` orders them."""
    keyed: list[tuple[float, str, list[str]]] = []
    for name, image in store.images():
        ref = reference.parse(name)
        if args.repository:
            want = reference.parse(args.repository, default_tag=False)
            if want.name != ref.name or (want.tag and want.tag != ref.tag):
                continue
        row = [ref.familiar_name(), ref.tag or "<none>"]
        if image is None:
            # Content missing, or (pushed to the registry) for another platform only.
            row += [*(["<none>"] if args.digests else []), "<unavailable>", "", ""]
            keyed.append((float("inf"), name, row))
            continue
        if args.digests:
            row.append(image.target)
        row += [
            short_id(image.id, args.no_trunc),
            units.ago(image.created),
            units.human_size(store.image_size(image)),
        ]
        created = units.parse_time(image.created)
        keyed.append((-(created.timestamp() if created else 0.0), name, row))
    return [row for _, _, row in sorted(keyed, key=lambda k: (k[0], k[1]))]


@guarded
async def run_list(args: argparse.Namespace) -> int:
    store = await _t(open_store, args)
    rows = await _t(_list_rows, store, args)
    if args.quiet:
        seen: list[str] = []
        for row in rows:
            ident = row[3 if args.digests else 2]
            if ident not in seen:
                seen.append(ident)
        print("\n".join(seen))
        return 0
    headers = ["REPOSITORY", "TAG"] + (["DIGEST"] if args.digests else [])
    headers += ["IMAGE ID", "CREATED", "SIZE"]
    print(table(headers, rows))
    return 0


def inspect_doc(store: store_mod.Store, image: store_mod.Image) -> dict[str, Any]:
    cfg = image.config
    tags, digests = [], []
    for name in image.names:
        ref = reference.parse(name)
        tags.append(ref.familiar())
        d = f"{ref.familiar_name()}@{image.target}"
        if d not in digests:
            digests.append(d)
    lowers = store.lower_dirs(image)
    return {
        "Id": image.id,
        "RepoTags": tags,
        "RepoDigests": digests,
        "Parent": "",
        "Comment": cfg.get("comment", ""),
        "Created": image.created,
        "Author": cfg.get("author", ""),
        "Config": cfg.get("config", {}),
        "Architecture": cfg.get("architecture", ""),
        "Variant": cfg.get("variant", ""),
        "Os": cfg.get("os", ""),
        "Size": store.image_size(image),
        "GraphDriver": {
            "Name": "overlayfs",
            "Data": {"LowerDir": ":".join(str(p) for p in lowers)},
        },
        "RootFS": {"Type": "layers", "Layers": image.diff_ids},
        "Descriptor": {
            "mediaType": image.manifest.media_type,
            "digest": image.manifest_digest,
            "size": store.blobs.size(image.manifest_digest),
        },
    }


@guarded
async def run_inspect(args: argparse.Namespace) -> int:
    store = await _t(open_store, args)
    out = []
    for name in args.names:
        image = await _t(store.resolve, name)
        out.append(await _t(inspect_doc, store, image))
    sys.stdout.write(orjson.dumps(out, option=orjson.OPT_INDENT_2).decode() + "\n")
    return 0


@guarded
async def run_tag(args: argparse.Namespace) -> int:
    store = await _t(open_store, args)
    image = await _t(store.resolve, args.source)
    target = reference.parse(args.target)
    if target.digest:
        raise reference.InvalidReference("a tag target cannot carry a digest")
    await _t(store.set_refs, [str(target)], image.target, image.target_media_type)
    return 0


def _rm(store: store_mod.Store, names: list[str], force: bool) -> list[str]:
    lines: list[str] = []
    for arg in names:
        image = store.resolve(arg)
        parsed: reference.Reference | None = None
        try:
            parsed = reference.parse(arg)
        except reference.InvalidReference:
            parsed = None
        if parsed is not None and str(parsed) in store.refs():
            victims = [str(parsed)]
        else:
            victims = list(image.names)
            if len(victims) > 1 and not force:
                raise store_mod.AmbiguousImage(
                    f"image {arg} is referenced in multiple repositories "
                    f"({', '.join(reference.parse(v).familiar() for v in victims)}); "
                    "use -f to remove them all"
                )
        for v in store.remove_refs(victims):
            lines.append(f"Untagged: {reference.parse(v).familiar()}")
        if not any(r["digest"] == image.target for r in store.refs().values()):
            result = store.gc()
            if image.id in result.blobs:
                lines.append(f"Deleted: {image.id}")
    return lines


@guarded
async def run_rm(args: argparse.Namespace) -> int:
    store = await _t(open_store, args)
    for line in await _t(_rm, store, args.names, args.force):
        print(line)
    return 0


@guarded
async def run_prune(args: argparse.Namespace) -> int:
    store = await _t(open_store, args)
    if args.build_cache and not args.dry_run:
        await _t(store.clear_build_cache)
    result = await _t(store.gc, dry_run=args.dry_run)
    verb = "would delete" if args.dry_run else "deleted"
    for d in result.blobs:
        print(f"{verb}: blob {d}")
    for d in result.layers:
        print(f"{verb}: layer {d}")
    print(f"Total reclaimed space: {units.human_size(result.bytes_freed)}")
    return 0


def _history_rows(
    store: store_mod.Store, image: store_mod.Image, args: argparse.Namespace
) -> list[list[str]]:
    sizes = [
        store.layer_size(d) or layer.size
        for d, layer in zip(image.diff_ids, image.manifest.layers, strict=True)
    ]
    history = image.config.get("history") or [{"created": image.created} for _ in sizes]
    rows = []
    layer_i = 0
    for h in history:
        size = 0
        if not h.get("empty_layer") and layer_i < len(sizes):
            size = sizes[layer_i]
            layer_i += 1
        created_by = str(h.get("created_by", "")).replace("\t", " ")
        if not args.no_trunc and len(created_by) > 45:
            created_by = created_by[:44] + "…"
        created = units.ago(str(h.get("created", ""))) if args.human else str(h.get("created", ""))
        size_s = units.human_size(size) if args.human else str(size)
        rows.append(["<missing>", created, created_by, size_s, str(h.get("comment", ""))])
    rows.reverse()
    if rows:
        rows[0][0] = short_id(image.id, args.no_trunc)
    return rows


@guarded
async def run_history(args: argparse.Namespace) -> int:
    store = await _t(open_store, args)
    image = await _t(store.resolve, args.name)
    rows = await _t(_history_rows, store, image, args)
    print(table(["IMAGE", "CREATED", "CREATED BY", "SIZE", "COMMENT"], rows))
    return 0


@guarded
async def run_df(args: argparse.Namespace) -> int:
    store = await _t(open_store, args)
    u = await _t(store.usage)
    rows = [
        ["Images", str(u.images), "", ""],
        ["Blobs", str(u.blobs), units.human_size(u.blob_bytes), ""],
        ["Unpacked layers", str(u.layers), units.human_size(u.layer_bytes), ""],
        [
            "Total",
            "",
            units.human_size(u.blob_bytes + u.layer_bytes),
            units.human_size(u.reclaimable_bytes),
        ],
    ]
    print(table(["TYPE", "TOTAL", "SIZE", "RECLAIMABLE"], rows))
    return 0
