"""The storage workload of issue 3 through ``storage.Interface``: SQLite, etcd and memory.

One run, the same code path for every backend (what the API server will call):

- ``seq_write``: creates by one client, one after another, 256-byte values;
- ``conc_write``: creates by 64 concurrent writers;
- ``point_read``: ``get`` of random existing keys by one client;
- ``list``: ``list`` of a prefix holding 10,000 keys (whole list, no limit);
- ``watch1`` / ``watch100``: 1 and 100 watchers on a prefix while 64 writers
  create keys; events (deliveries) per second over the whole run and the
  commit-to-delivery latency, measured from the start of the writer's call
  (the commit happens inside the call, so this is an upper bound that
  includes the write's own queueing; it is fair to backends that deliver
  before the call returns as to those that deliver after).

The reference is the real etcd (Debian's ``etcd-server``) on loopback, started
here with a fresh data dir; SQLite is a fresh file in a temp dir. Runs on
uvloop, as ``pyk8s server`` does. Prints ops/s, p50, p99 and the SQLite/etcd
ratios; writes ``bench/results/storage.json`` and the ``storage`` section of
``bench/RESULTS.md``. Run: ``make bench`` or ``.venv/bin/python bench/storage.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import random
import shutil
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # run as a script from anywhere

import uvloop  # noqa: E402

from pyk8s.storage.etcd.backend import EtcdStorage  # noqa: E402
from pyk8s.storage.interface import Interface  # noqa: E402
from pyk8s.storage.memory import MemoryStorage  # noqa: E402
from pyk8s.storage.sqlite.log import SqliteStorage  # noqa: E402
from tests.support.etcdserver import EtcdServer  # noqa: E402

VALUE = b"v" * 256


@dataclass
class Sizes:
    seq_write: int = 2000
    conc_write: int = 4000
    writers: int = 64
    point_read: int = 4000
    list_keys: int = 10_000
    list_repeat: int = 10
    watch1_events: int = 4000
    watch100_events: int = 1500


@dataclass
class Result:
    ops_per_s: float
    p50_ms: float
    p99_ms: float


def pct(samples: list[float], p: float) -> float:
    s = sorted(samples)
    return s[min(len(s) - 1, int(len(s) * p))] * 1e3 if s else float("nan")


def result(count: int, elapsed: float, latencies: list[float]) -> Result:
    return Result(count / elapsed, pct(latencies, 0.50), pct(latencies, 0.99))


Opener = Callable[[str], contextlib.AbstractAsyncContextManager[Interface]]


async def seq_write(store: Interface, n: int) -> Result:
    lat = []
    start = time.perf_counter()
    for i in range(n):
        t = time.perf_counter()
        await store.create(f"/registry/seq/k{i:06d}", VALUE)
        lat.append(time.perf_counter() - t)
    return result(n, time.perf_counter() - start, lat)


async def write_concurrently(
    store: Interface, prefix: str, n: int, writers: int, acked: dict[int, float] | None = None
) -> tuple[float, list[float]]:
    lat: list[float] = []

    async def writer(w: int) -> None:
        for i in range(w, n, writers):
            t = time.perf_counter()
            kv = await store.create(f"{prefix}w{w:02d}-{i:06d}", VALUE)
            done = time.perf_counter()
            lat.append(done - t)
            if acked is not None:
                # The write was committed somewhere inside [t, done]; measuring
                # delivery from t bounds commit-to-delivery from above, for
                # backends that deliver before the call returns as for others.
                acked[kv.mod_revision] = t

    start = time.perf_counter()
    async with asyncio.TaskGroup() as tg:
        for w in range(writers):
            tg.create_task(writer(w))
    return time.perf_counter() - start, lat


async def conc_write(store: Interface, n: int, writers: int) -> Result:
    elapsed, lat = await write_concurrently(store, "/registry/conc/", n, writers)
    return result(n, elapsed, lat)


async def point_read(store: Interface, n: int) -> Result:
    keys = [kv.key for kv in (await store.list("/registry/seq/")).items]
    rng = random.Random(1)
    lat = []
    start = time.perf_counter()
    for _ in range(n):
        t = time.perf_counter()
        await store.get(rng.choice(keys))
        lat.append(time.perf_counter() - t)
    return result(n, time.perf_counter() - start, lat)


async def list_keys(store: Interface, n: int, repeat: int, writers: int) -> Result:
    await write_concurrently(store, "/registry/list/", n, writers)
    lat = []
    start = time.perf_counter()
    for _ in range(repeat):
        t = time.perf_counter()
        res = await store.list("/registry/list/")
        lat.append(time.perf_counter() - t)
        assert len(res.items) == n, len(res.items)
    return result(repeat, time.perf_counter() - start, lat)


async def watch(store: Interface, watchers: int, n: int, writers: int, tag: str) -> Result:
    prefix = f"/registry/{tag}/"
    streams = [store.watch(prefix) for _ in range(watchers)]
    seen: list[dict[int, float]] = [{} for _ in streams]

    async def read(i: int) -> None:
        got = seen[i]
        async for ev in streams[i]:
            got[ev.revision] = time.perf_counter()
            if len(got) == n:
                return

    acked: dict[int, float] = {}
    start = time.perf_counter()
    async with asyncio.TaskGroup() as tg:
        readers = [tg.create_task(read(i)) for i in range(watchers)]
        await write_concurrently(store, prefix, n, writers, acked)
        await asyncio.wait_for(asyncio.gather(*readers), 60)
    elapsed = time.perf_counter() - start
    for s in streams:
        await s.close()
    lat = [max(0.0, got[rev] - acked[rev]) for got in seen for rev in got]
    return result(watchers * n, elapsed, lat)


async def run_backend(name: str, opener: Opener, sizes: Sizes) -> dict[str, Result]:
    out: dict[str, Result] = {}

    async with opener(f"{name}-seq") as store:
        out["seq_write"] = await seq_write(store, sizes.seq_write)
        _print(name, "seq_write", out["seq_write"])
        out["point_read"] = await point_read(store, sizes.point_read)
        _print(name, "point_read", out["point_read"])
    async with opener(f"{name}-conc") as store:
        out["conc_write"] = await conc_write(store, sizes.conc_write, sizes.writers)
        _print(name, "conc_write", out["conc_write"])
    async with opener(f"{name}-list") as store:
        out["list"] = await list_keys(store, sizes.list_keys, sizes.list_repeat, sizes.writers)
        _print(name, "list", out["list"])
    async with opener(f"{name}-watch") as store:
        out["watch1"] = await watch(store, 1, sizes.watch1_events, sizes.writers, "w1")
        _print(name, "watch1", out["watch1"])
        out["watch100"] = await watch(store, 100, sizes.watch100_events, sizes.writers, "w100")
        _print(name, "watch100", out["watch100"])
    return out


def _print(backend: str, label: str, res: Result) -> None:
    print(
        f"  {backend:7} {label:11} {res.ops_per_s:10.0f} /s"
        f"   p50 {res.p50_ms:7.2f} ms   p99 {res.p99_ms:7.2f} ms",
        flush=True,
    )


def openers(etcd: EtcdServer, tmp: Path) -> dict[str, Opener]:
    @contextlib.asynccontextmanager
    async def memory(tag: str) -> AsyncIterator[Interface]:
        store = MemoryStorage()
        try:
            yield store
        finally:
            await store.close()

    @contextlib.asynccontextmanager
    async def sqlite(tag: str) -> AsyncIterator[Interface]:
        path = tmp / tag / "state.db"
        await asyncio.to_thread(path.parent.mkdir, parents=True)
        store = await SqliteStorage.open(path)
        try:
            yield store
        finally:
            await store.close()

    @contextlib.asynccontextmanager
    async def etcd_store(tag: str) -> AsyncIterator[Interface]:
        store = await EtcdStorage.open(etcd.endpoint, prefix=f"/bench-{tag}")
        try:
            yield store
        finally:
            await store.close()

    return {"sqlite": sqlite, "etcd": etcd_store, "memory": memory}


WORKLOADS = ["seq_write", "conc_write", "point_read", "list", "watch1", "watch100"]
TARGETS = {  # issue 3: SQLite against etcd, and absolute watch figures
    "seq_write": "SQLite >= 1.0x etcd",
    "conc_write": "SQLite >= 0.5x etcd",
    "watch1": ">= 1,000 events/s, p99 < 100 ms",
    "watch100": ">= 10,000 deliveries/s",
}


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return (
        f"{cpu}, {os.cpu_count()} cpus, Linux {platform.release()}, "
        f"Python {platform.python_version()} (uvloop)"
    )


def target_met(label: str, results: dict[str, dict[str, Result]]) -> str:
    s, e = results["sqlite"][label], results["etcd"][label]
    if label == "seq_write":
        return "yes" if s.ops_per_s >= e.ops_per_s else "no"
    if label == "conc_write":
        return "yes" if s.ops_per_s >= 0.5 * e.ops_per_s else "no"
    if label == "watch1":
        return "yes" if s.ops_per_s >= 1000 and s.p99_ms < 100 else "no"
    if label == "watch100":
        return "yes" if s.ops_per_s >= 10_000 else "no"
    return ""


def report(
    results: dict[str, dict[str, Result]], etcd_version: str, sizes: Sizes, load: float
) -> None:
    flat: dict[str, object] = {
        "machine": machine(),
        "etcd_version": etcd_version,
        "load_average_1m_at_start": round(load, 2),
    }
    for backend, rows in results.items():
        for label, r in rows.items():
            flat[f"{backend}_{label}_ops_per_s"] = round(r.ops_per_s, 1)
            flat[f"{backend}_{label}_p50_ms"] = round(r.p50_ms, 3)
            flat[f"{backend}_{label}_p99_ms"] = round(r.p99_ms, 3)
    for label in WORKLOADS:
        ratio = results["sqlite"][label].ops_per_s / results["etcd"][label].ops_per_s
        flat[f"sqlite_etcd_{label}_ratio"] = round(ratio, 3)
    flat["sizes"] = sizes.__dict__
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "storage.json").write_text(json.dumps(flat, indent=2) + "\n")

    units = {"list": "lists/s", "watch1": "events/s", "watch100": "deliveries/s"}
    lines = [
        "## storage: SQLite, etcd and memory through storage.Interface",
        "",
        f"{flat['machine']}; etcd {etcd_version} on loopback (Debian etcd-server, fresh data "
        f"dir); `make bench` (bench/storage.py). Sizes: {sizes.seq_write} sequential creates "
        f"of 256 bytes, {sizes.conc_write} creates by {sizes.writers} writers, "
        f"{sizes.point_read} point reads, a list of {sizes.list_keys} keys x{sizes.list_repeat}, "
        f"{sizes.watch1_events} events to 1 watcher and {sizes.watch100_events} to 100 "
        f"watchers while {sizes.writers} writers write. Latency = per call; for watches, "
        "writer's call started -> watcher got the event (an upper bound on commit-to-delivery). "
        "Load average at start: "
        f"{load:.1f} (the machine is shared; figures vary by 2x from run to run).",
        "",
        "| workload | unit | SQLite | etcd | memory | SQLite/etcd | SQLite p50 / p99 ms "
        "| etcd p50 / p99 ms | memory p50 / p99 ms | target (issue 3) | met |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |",
    ]
    for label in WORKLOADS:
        s, e, m = (results[b][label] for b in ("sqlite", "etcd", "memory"))
        lines.append(
            f"| {label} | {units.get(label, 'ops/s')} | {s.ops_per_s:,.0f} | {e.ops_per_s:,.0f} "
            f"| {m.ops_per_s:,.0f} | {s.ops_per_s / e.ops_per_s:.2f}x "
            f"| {s.p50_ms:.2f} / {s.p99_ms:.2f} | {e.p50_ms:.2f} / {e.p99_ms:.2f} "
            f"| {m.p50_ms:.2f} / {m.p99_ms:.2f} | {TARGETS.get(label, '')} "
            f"| {target_met(label, results)} |"
        )
    lines.append("")
    section = "\n".join(lines)
    print()
    print(section)
    md = HERE / "RESULTS.md"
    text = md.read_text() if md.exists() else "# Benchmark results\n\n"
    start = text.find("## storage:")
    if start >= 0:
        end = text.find("\n## ", start + 1)
        text = text[:start] + section + (text[end:] if end >= 0 else "")
    else:
        text = text.rstrip("\n") + "\n\n" + section
    md.write_text(text)


async def bench(etcd: EtcdServer, tmp: Path, sizes: Sizes) -> dict[str, dict[str, Result]]:
    results: dict[str, dict[str, Result]] = {}
    for name, opener in openers(etcd, tmp).items():
        print(f"{name}:", flush=True)
        results[name] = await run_backend(name, opener, sizes)
    return results


def etcd_version() -> str:
    import subprocess

    out = subprocess.run(["etcd", "--version"], capture_output=True, text=True, check=False)
    first = out.stdout.splitlines()[0] if out.stdout else "etcd ?"
    return first.split(":", 1)[-1].strip()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--scale", type=float, default=1.0, help="multiply every size (e.g. 0.1)")
    args = p.parse_args()
    sizes = Sizes()
    for field in (
        "seq_write",
        "conc_write",
        "point_read",
        "list_keys",
        "watch1_events",
        "watch100_events",
    ):
        setattr(sizes, field, max(64, int(getattr(sizes, field) * args.scale)))
    if shutil.which("etcd") is None:
        sys.exit("etcd is not installed (Debian etcd-server): run `make deps`")
    load = os.getloadavg()[0]
    tmp = Path(tempfile.mkdtemp(prefix="pyk8s-bench-"))
    try:
        # Started from the main thread: etcd dies with it (PR_SET_PDEATHSIG).
        (tmp / "etcd").mkdir()
        with EtcdServer(tmp / "etcd") as etcd:
            results = uvloop.run(bench(etcd, tmp, sizes))
        report(results, etcd_version(), sizes, load)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
