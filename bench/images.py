"""The image workload of issue 8, ours beside a reference in one run.

- ``pull``: the same multi-layer image (``nginx``: debian + nginx layers, from
  ``pyk8s image bootstrap``) pulled from Debian's ``docker-registry`` on loopback by pyk8s
  (into a fresh store, layers verified but not unpacked) and by ``skopeo copy`` (into a fresh
  OCI layout). Ratio = skopeo's time / ours (>= 1.0 means we are at least as fast; target
  >= 1.0).
- ``push``: the same image pushed by pyk8s and by skopeo (from an OCI archive), first as an
  upload, then to further repositories of the same registry, where both mount the blobs
  (cross-repository mount) instead of uploading them again; ratios as above.
- ``unpack``: unpacking that image's layers into overlayfs lower dirs with ``Store.unpack``
  against ``tar -xzf`` of the same blobs.
- ``build``: a three-step Dockerfile (RUN, COPY, ENV on busybox) cold, then from a warm cache.
- ``store``: the store's size holding ``nginx`` and ``python``, which share the debian layer
  (stored once), against the sum of the two images' sizes.

Medians of ``--rounds`` runs. Needs root (unpack, runc), ``docker-registry`` and ``skopeo``.
Writes ``bench/results/images.json`` and the ``images`` section of ``bench/RESULTS.md``.
Run: ``make bench`` or ``.venv/bin/python bench/images.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # run as a script from anywhere

import uvloop  # noqa: E402

from pyk8s.images import archive, distribution, layers, pull  # noqa: E402
from pyk8s.images import store as store_mod  # noqa: E402
from pyk8s.images.build import builder  # noqa: E402
from tests.e2e.images.registry_fixture import docker_registry  # noqa: E402
from tests.support.images import bootstrapped  # noqa: E402


def tarball(name: str) -> Path:
    """The bootstrapped image, from the test suite's cache (made there if missing)."""
    return bootstrapped(name)


def timed(fn: Callable[[], object]) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def du(path: Path) -> int:
    total = 0
    for dirpath, _, files in os.walk(path):
        for f in files:
            total += os.lstat(os.path.join(dirpath, f)).st_blocks * 512
    return total


def machine() -> str:
    cpu = "unknown cpu"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    py = platform.python_version()
    return f"{cpu}, {os.cpu_count()} cpus, Linux {platform.release()}, Python {py}"


def skopeo(*args: str) -> None:
    subprocess.run(["skopeo", *args], check=True, capture_output=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rounds", type=int, default=3)
    opts = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench/images.py needs root (unpack, runc)")
    for tool in ("docker-registry", "skopeo", "tar"):
        if shutil.which(tool) is None:
            sys.exit(f"missing {tool} (make deps installs it)")
    results: dict[str, object] = {"machine": machine(), "rounds": opts.rounds}
    with tempfile.TemporaryDirectory(prefix="bench-images-") as t:
        tmp = Path(t)
        src = store_mod.Store(tmp / "src")
        for name in ("busybox", "nginx", "python"):
            archive.import_archive(src, tarball(name))
        nginx = src.resolve("nginx:latest")
        with docker_registry(tmp / "registry", auth="none") as reg:
            host = reg.host
            oci = tmp / "nginx-oci.tar"
            archive.export_archive(src, ["nginx:latest"], oci)

            # -- push ---------------------------------------------------------------
            ours_push, ref_push = [], []
            for i in range(opts.rounds):

                async def do_push(i: int = i) -> None:
                    async with distribution.Client() as c:
                        await pull.push(src, c, "nginx:latest", f"{host}/ours{i}/nginx:1")

                ours_push.append(timed(lambda: uvloop.run(do_push())))
                ref_push.append(timed(lambda i=i: skopeo(
                    "copy", "--dest-tls-verify=false", f"oci-archive:{oci}",
                    f"docker://{host}/theirs{i}/nginx:1",
                )))  # fmt: skip

            # -- pull ---------------------------------------------------------------
            ours_pull, ref_pull = [], []
            for i in range(opts.rounds):
                dest = store_mod.Store(tmp / f"pull{i}")

                async def do_pull(dest: store_mod.Store = dest) -> None:
                    async with distribution.Client() as c:
                        await pull.pull(dest, c, f"{host}/ours0/nginx:1", unpack=False)

                ours_pull.append(timed(lambda: uvloop.run(do_pull())))
                ref_pull.append(timed(lambda i=i: skopeo(
                    "copy", "--src-tls-verify=false", f"docker://{host}/ours0/nginx:1",
                    f"oci:{tmp / f'skopeo{i}'}:nginx",
                )))  # fmt: skip
                shutil.rmtree(tmp / f"skopeo{i}")
                if i:
                    shutil.rmtree(dest.root)

        # -- unpack -----------------------------------------------------------------
        blob_paths = [src.blobs.path(d.digest) for d in nginx.manifest.layers]
        ours_unpack, ref_unpack = [], []
        for i in range(opts.rounds):
            s = store_mod.Store(tmp / f"unpack{i}")
            for d in [*nginx.blob_digests(), nginx.manifest_digest]:
                s.blobs.put_file(src.blobs.path(d), d)
            image = s.load(nginx.manifest_digest)
            subprocess.run(["sync"], check=True)
            ours_unpack.append(timed(lambda s=s, image=image: s.unpack(image)))
            layers.remove_tree(s.root)

            def tar_x(i: int = i) -> None:
                for j, p in enumerate(blob_paths):
                    d = tmp / f"tar{i}-{j}"
                    d.mkdir()
                    subprocess.run(
                        ["tar", "-xzf", str(p), "-C", str(d), "--numeric-owner", "-p"], check=True
                    )

            subprocess.run(["sync"], check=True)
            ref_unpack.append(timed(tar_x))
            for j in range(len(blob_paths)):
                layers.remove_tree(tmp / f"tar{i}-{j}")

        # -- build ------------------------------------------------------------------
        ctx = tmp / "ctx"
        ctx.mkdir()
        (ctx / "app.txt").write_text("app\n")
        (ctx / "Dockerfile").write_text(
            "FROM busybox\nRUN echo built > /built\nCOPY app.txt /app/\nENV APP=/app\n"
        )

        def do_build() -> str:
            b = builder.Builder(src, builder.Options(context=ctx, tags=["bench:1"]), lambda s: None)
            try:
                return b.build().id
            finally:
                b.close()

        cold = timed(do_build)
        warm = [timed(do_build) for _ in range(opts.rounds)]

        # -- store size -------------------------------------------------------------
        two = store_mod.Store(tmp / "two")
        archive.import_archive(two, tarball("nginx"))
        archive.import_archive(two, tarball("python"))
        a, b = two.resolve("nginx:latest"), two.resolve("python:3")
        separate = sum(d.size for d in a.manifest.layers) + sum(d.size for d in b.manifest.layers)
        usage = two.usage()
        unpacked_separate = two.image_size(a) + two.image_size(b)

    med = statistics.median
    results.update(
        {
            "image_layers": len(nginx.manifest.layers),
            "image_compressed_bytes": sum(d.size for d in nginx.manifest.layers),
            "pull_pyk8s_s": med(ours_pull),
            "pull_skopeo_s": med(ref_pull),
            "pull_speed_ratio_vs_skopeo": med(ref_pull) / med(ours_pull),
            "push_pyk8s_s": ours_push[0],
            "push_skopeo_s": ref_push[0],
            "push_speed_ratio_vs_skopeo": ref_push[0] / ours_push[0],
            "push_mount_pyk8s_s": med(ours_push[1:] or ours_push),
            "push_mount_skopeo_s": med(ref_push[1:] or ref_push),
            "push_mount_speed_ratio_vs_skopeo": med(ref_push[1:] or ref_push)
            / med(ours_push[1:] or ours_push),
            "unpack_pyk8s_s": med(ours_unpack),
            "unpack_tar_s": med(ref_unpack),
            "unpack_speed_ratio_vs_tar": med(ref_unpack) / med(ours_unpack),
            "build_cold_s": cold,
            "build_warm_s": med(warm),
            "store_two_images_blob_bytes": usage.blob_bytes,
            "store_two_images_separate_blob_bytes": separate,
            "store_blob_sharing_ratio": usage.blob_bytes / separate,
            "store_two_images_layer_bytes": usage.layer_bytes,
            "store_two_images_separate_layer_bytes": unpacked_separate,
            "store_layers": usage.layers,
        }
    )
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "images.json").write_text(json.dumps(results, indent=2) + "\n")
    write_markdown(results)


def write_markdown(r: dict[str, object]) -> None:
    def f(key: str) -> float:
        v = r[key]
        assert isinstance(v, int | float)
        return float(v)

    mb = f("image_compressed_bytes") / 1e6
    rows = [
        ("pull (verify, no unpack)", "pyk8s", f("pull_pyk8s_s"), "skopeo copy", f("pull_skopeo_s"),
         f("pull_speed_ratio_vs_skopeo"), ">= 1.0x skopeo", f("pull_speed_ratio_vs_skopeo") >= 1.0),
        ("push (upload)", "pyk8s", f("push_pyk8s_s"), "skopeo copy", f("push_skopeo_s"),
         f("push_speed_ratio_vs_skopeo"), "", None),
        ("push to another repo (mount)", "pyk8s", f("push_mount_pyk8s_s"), "skopeo copy",
         f("push_mount_skopeo_s"), f("push_mount_speed_ratio_vs_skopeo"), "", None),
        ("unpack to lower dirs", "Store.unpack", f("unpack_pyk8s_s"), "tar -xzf", f("unpack_tar_s"),
         f("unpack_speed_ratio_vs_tar"), "", None),
    ]  # fmt: skip
    lines = [
        "## images: pull, push, unpack, build, store size",
        "",
        f"{r['machine']}; `bench/images.py`, median of {r['rounds']} rounds. Image: "
        f"bootstrapped `nginx` ({int(f('image_layers'))} layers, {mb:.1f} MB compressed) "
        "in Debian's docker-registry on loopback. Ratio = reference time / ours.",
        "",
        "| workload | ours | s | reference | s | ratio | target (issue 8) | met |",
        "| --- | --- | ---: | --- | ---: | ---: | --- | --- |",
    ]
    for name, ours, t1, ref, t2, ratio, target, met in rows:
        m = "" if met is None else ("yes" if met else "no")
        lines.append(
            f"| {name} | {ours} | {t1:.2f} | {ref} | {t2:.2f} | {ratio:.2f}x | {target} | {m} |"
        )
    blobs_mb = f("store_two_images_blob_bytes") / 1e6
    apart_mb = f("store_two_images_separate_blob_bytes") / 1e6
    layers_mb = f("store_two_images_layer_bytes") / 1e6
    layers_apart_mb = f("store_two_images_separate_layer_bytes") / 1e6
    lines += [
        "",
        "Build of a three-step Dockerfile (RUN, COPY, ENV on busybox): "
        f"cold {f('build_cold_s'):.2f} s, warm cache {f('build_warm_s'):.2f} s.",
        "",
        "Store holding `nginx` and `python` (sharing the debian layer): blobs "
        f"{blobs_mb:.1f} MB against {apart_mb:.1f} MB for the two images apart "
        f"({f('store_blob_sharing_ratio'):.2f}x); unpacked layers {layers_mb:.1f} MB against "
        f"{layers_apart_mb:.1f} MB ({int(f('store_layers'))} layer dirs).",
        "",
    ]
    section = "\n".join(lines)
    print(section)
    md = HERE / "RESULTS.md"
    text = md.read_text() if md.exists() else "# Benchmark results\n\n"
    start = text.find("## images:")
    if start >= 0:
        end = text.find("\n## ", start + 1)
        text = text[:start] + section + (text[end + 1 :] if end >= 0 else "")
    else:
        text = text.rstrip("\n") + "\n\n" + section
    md.write_text(text)


if __name__ == "__main__":
    main()
