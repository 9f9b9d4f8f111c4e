"""The node density workload of issue 9, shaped like upstream's ``density`` node e2e test,
against a real ``pyk8s server`` (its kubelet on runc), beside ``runc run`` alone as the floor.

Phases: 10 busybox pods created at once (create → Running as seen by a watch: p50/p90/p99,
and the batch time from the first create to the last Running); 50 pods brought up and left
running; then 10 pods created one after another beside them (each waits for the previous to
run). The server process's CPU seconds and RSS are read from ``/proc`` (it holds the API
server, controllers, scheduler and kubelet: the kubelet's share is lower); a second run has
``pyk8s kubelet`` as its own process beside a server without its agent, for the kubelet's own
CPU and RSS (issue 9's target: RSS <= 100 MB). The floor starts
the same containers with ``runc run -d`` on an overlayfs of the same image layers, 10 at once
and 10 in sequence. Needs root, runc and the bootstrapped busybox image (the image tests'
cache in ``/var/cache/pyk8s-test-images``, else it is bootstrapped here, which is slow).

Writes ``bench/results/kubelet.json`` and the ``kubelet`` section of ``bench/RESULTS.md``.
Run: ``.venv/bin/python bench/kubelet.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import uvloop  # noqa: E402

from pyk8s.client import rest  # noqa: E402
from pyk8s.images import archive, bootstrap  # noqa: E402
from pyk8s.images import store as store_mod  # noqa: E402
from pyk8s.kubelet.runtime import killall, naming  # noqa: E402

PODS = rest.ResourceRef("", "v1", "pods", True, "Pod")
NODES = rest.ResourceRef("", "v1", "nodes", False, "Node")
BATCH, BACKGROUND, SEQUENTIAL = 10, 50, 10


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _pct(values: list[float], p: float) -> float:
    v = sorted(values)
    return v[min(len(v) - 1, round(p / 100 * (len(v) - 1)))] if v else 0.0


def _summary(lat: list[float]) -> dict[str, float]:
    return {"p50_s": _pct(lat, 50), "p90_s": _pct(lat, 90), "p99_s": _pct(lat, 99)}


def busybox_tar(tmp: Path) -> Path:
    base = Path(os.environ.get("PYK8S_TEST_IMAGE_CACHE") or "/var/cache/pyk8s-test-images")
    cached = base / "v1" / "busybox.tar"
    if cached.exists():
        return cached
    store = store_mod.Store(tmp / "bootstrap-store")
    image = bootstrap.bootstrap(store, "busybox", lambda line: None)
    out = tmp / "busybox.tar"
    archive.export_archive(store, list(store.resolve(image.target).names), out)
    return out


def _proc_usage(pid: int) -> tuple[float, int]:
    """(CPU seconds, RSS bytes) of a process."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    cpu = (int(fields[11]) + int(fields[12])) / tick
    rss = 0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            rss = int(line.split()[1]) * 1024
    return cpu, rss


def _pod(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {"bench": "kubelet"}},
        "spec": {
            "terminationGracePeriodSeconds": 0,
            "containers": [{"name": "c", "image": "busybox", "command": ["sleep", "3600"]}],
        },
    }


class Watcher:
    """When each pod was first seen Running (monotonic)."""

    def __init__(self, client: rest.Client) -> None:
        self.client = client
        self.running: dict[str, float] = {}
        self.changed = asyncio.Event()

    async def run(self) -> None:
        while True:  # a watch ends now and then; list + watch again
            listed = await self.client.list(PODS, "default")
            for obj in listed["items"]:
                self._see(obj)
            rv = listed["metadata"]["resourceVersion"]
            with contextlib.suppress(Exception):
                async for ev in self.client.watch(PODS, "default", resource_version=rv):
                    self._see(ev.object)

    def _see(self, obj: dict[str, Any]) -> None:
        name = obj["metadata"]["name"]
        if (obj.get("status") or {}).get("phase") == "Running" and name not in self.running:
            self.running[name] = time.monotonic()
            self.changed.set()

    async def wait(self, names: list[str], timeout: float = 300) -> None:
        async with asyncio.timeout(timeout):
            while not all(n in self.running for n in names):
                self.changed.clear()
                await self.changed.wait()


async def _stop(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is None:
        proc.terminate()
    try:
        await asyncio.wait_for(proc.wait(), 15)
    except TimeoutError:
        proc.kill()
        await proc.wait()


@contextlib.asynccontextmanager
async def server(data: Path, *, split: bool = False) -> AsyncIterator[tuple[Path, int]]:
    """A ``pyk8s server``; yields its kubeconfig and the pid that runs the kubelet.

    ``split``: the server runs without its agent and ``pyk8s kubelet`` runs alone (its data
    and image store in ``<data>/kubelet``), so the kubelet's own CPU and RSS can be read.
    """
    port = _free_port()
    log = (data / "server.log").open("ab")
    procs: list[asyncio.subprocess.Process] = []
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "pyk8s", "server", "--data-dir", str(data), "--https-port",
        str(port), "--bind-address", "127.0.0.1", "--kubelet-port", str(_free_port()),
        "--cluster-dns-port", str(_free_port()), "--cluster-cidr", "10.222.0.0/16",
        "--service-cidr", "10.223.0.0/16", "--service-node-port-range", "38000-38999",
        *(["--disable-agent"] if split else []),
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    procs.append(proc)
    try:
        kubeconfig = data / "kubeconfig.yaml"
        deadline = time.monotonic() + 90
        while not kubeconfig.exists():
            if time.monotonic() > deadline or proc.returncode is not None:
                raise RuntimeError(f"pyk8s server did not start; see {data / 'server.log'}")
            await asyncio.sleep(0.2)
        pid = proc.pid
        if split:
            kubelet = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "pyk8s", "kubelet", "--kubeconfig", str(kubeconfig),
                "--data-dir", str(data / "kubelet"), "--port", str(_free_port()),
                "--hostname-override", "bench-kubelet", "--cluster-dns", "10.223.0.10",
                "--client-ca-file", str(data / "server" / "tls" / "ca.crt"),
                stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
            procs.append(kubelet)
            pid = kubelet.pid
        yield kubeconfig, pid
    finally:
        for p in reversed(procs):
            await _stop(p)
        log.close()
        for d in (data / "kubelet", data):
            if d.exists():
                await killall.killall(naming.prefix_for(d), d)


async def measure_pyk8s(data: Path, *, split: bool = False) -> dict[str, Any]:
    async with server(data, split=split) as (kubeconfig, pid):
        client = await rest.Client.from_kubeconfig(kubeconfig)
        async with client:
            while True:  # the node is Ready
                with contextlib.suppress(Exception):
                    nodes = (await client.list(NODES))["items"]
                    conds = [c for n in nodes for c in n["status"].get("conditions") or []]
                    if any(c["type"] == "Ready" and c["status"] == "True" for c in conds):
                        break
                await asyncio.sleep(0.5)
            w = Watcher(client)
            task = asyncio.create_task(w.run())
            # Warm up (upstream's density test pre-pulls too): the image is imported and
            # unpacked once, before anything is timed.
            await client.create(PODS, _pod("warmup"), "default")
            await w.wait(["warmup"])
            cpu0, _ = _proc_usage(pid)
            # 1. a batch created at once
            names = [f"batch-{i}" for i in range(BATCH)]
            started: dict[str, float] = {}

            async def create(name: str) -> None:
                started[name] = time.monotonic()
                await client.create(PODS, _pod(name), "default")

            t0 = time.monotonic()
            await asyncio.gather(*(create(n) for n in names))
            await w.wait(names)
            batch_time = max(w.running[n] for n in names) - t0
            batch = [w.running[n] - started[n] for n in names]
            # 2. background pods, then one at a time beside them
            bg = [f"bg-{i}" for i in range(BACKGROUND)]
            await asyncio.gather(*(create(n) for n in bg))
            await w.wait(bg, timeout=600)
            seq = []
            for i in range(SEQUENTIAL):
                name = f"seq-{i}"
                await create(name)
                await w.wait([name])
                seq.append(w.running[name] - started[name])
            cpu1, rss = _proc_usage(pid)
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    return {
        "batch": {**_summary(batch), "batch_time_s": batch_time},
        "sequential": _summary(seq),
        "server_cpu_s": cpu1 - cpu0,
        "server_rss_mb": rss / 2**20,
        "pods": 1 + BATCH + BACKGROUND + SEQUENTIAL,
    }


async def _run(*argv: str) -> None:
    # No pipes: a detached container would hold them open.
    proc = await asyncio.create_subprocess_exec(
        *argv, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    if await proc.wait() != 0:
        raise RuntimeError(f"{' '.join(argv)}: exit {proc.returncode}")


async def measure_runc(tmp: Path, tar: Path) -> dict[str, Any]:
    """``runc run -d`` of the same container on an overlay of the same layers."""
    store = store_mod.Store(tmp / "store")
    await asyncio.to_thread(archive.import_archive, store, tar)
    image = await asyncio.to_thread(store.resolve, "busybox")
    lowers = await asyncio.to_thread(store.lower_dirs, image)
    root = tmp / "runc-root"
    ids: list[str] = []

    async def one(cid: str) -> float:
        b = tmp / "bundles" / cid
        for d in ("rootfs", "upper", "work"):
            (b / d).mkdir(parents=True)
        opts = f"lowerdir={':'.join(map(str, lowers))},upperdir={b / 'upper'},workdir={b / 'work'}"
        t = time.monotonic()
        await _run("mount", "-t", "overlay", "overlay", "-o", opts, str(b / "rootfs"))
        await _run("runc", "spec", "--bundle", str(b))
        spec = json.loads((b / "config.json").read_text())
        spec["process"]["terminal"] = False
        spec["process"]["args"] = ["sleep", "3600"]
        spec["root"]["readonly"] = False
        (b / "config.json").write_text(json.dumps(spec))
        await _run("runc", "--root", str(root), "run", "-d", "--bundle", str(b), cid)
        ids.append(cid)
        return time.monotonic() - t

    try:
        t0 = time.monotonic()
        batch = await asyncio.gather(*(one(f"bench-batch-{i}") for i in range(BATCH)))
        batch_time = time.monotonic() - t0
        seq = [await one(f"bench-seq-{i}") for i in range(SEQUENTIAL)]
    finally:
        for cid in ids:
            with contextlib.suppress(RuntimeError):
                await _run("runc", "--root", str(root), "delete", "--force", cid)
        for b in sorted((tmp / "bundles").glob("*")):
            with contextlib.suppress(RuntimeError):
                await _run("umount", str(b / "rootfs"))
    return {"batch": {**_summary(list(batch)), "batch_time_s": batch_time},
            "sequential": _summary(seq)}  # fmt: skip


def write_results(ours: dict[str, Any], floor: dict[str, Any], load: tuple[float, float]) -> None:
    path = HERE / "results" / "kubelet.json"
    previous: dict[str, Any] = {}
    if path.exists():
        with contextlib.suppress(ValueError):
            previous = json.loads(path.read_text())
    out = {"machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
           "load_average_start_end": [round(x, 1) for x in load],
           "pyk8s": ours, "runc_run": floor}  # fmt: skip
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(out, indent=2) + "\n")
    lines = [
        "## kubelet: node density (issue 9)",
        "",
        f"{BATCH} pods at once, then {SEQUENTIAL} one by one beside {BACKGROUND} running; "
        "create → Running seen by a watch. Floor: `runc run -d` of the same container. "
        f"Load average (1 min) at start / end: {load[0]:.1f} / {load[1]:.1f} on "
        f"{os.cpu_count()} cpus (the machine is shared: ratios to the floor mean more than "
        "seconds).",
        "",
        "| phase | pyk8s p50 / p90 / p99 (s) | runc run p50 / p99 (s) | p99 ratio | target |",
        "| --- | --- | --- | --- | --- |",
    ]
    for phase, target in (("batch", "p99 <= 5 s"), ("sequential", "p99 <= 3 s")):
        o, f = ours[phase], floor[phase]
        lines.append(
            f"| {phase} | {o['p50_s']:.2f} / {o['p90_s']:.2f} / {o['p99_s']:.2f} "
            f"| {f['p50_s']:.2f} / {f['p99_s']:.2f} | {o['p99_s'] / max(f['p99_s'], 1e-6):.1f}x "
            f"| {target} |"
        )
    lines += [
        "",
        f"Batch time: pyk8s {ours['batch']['batch_time_s']:.2f} s, runc run "
        f"{floor['batch']['batch_time_s']:.2f} s. Server process (API server, controllers, "
        f"scheduler and kubelet together) after {ours['pods']} pods: "
        f"RSS {ours['server_rss_mb']:.0f} MB, {ours['server_cpu_s']:.1f} CPU s for the run "
        "(target for the kubelet alone: RSS <= 100 MB).",
        "",
    ]
    alone = ours.get("kubelet_alone")
    if alone:
        lines += [
            "The same run with `pyk8s kubelet` as its own process (the server without its "
            f"agent): batch p99 {alone['batch']['p99_s']:.2f} s, sequential p99 "
            f"{alone['sequential']['p99_s']:.2f} s; the kubelet process after "
            f"{alone['pods']} pods: RSS {alone['server_rss_mb']:.0f} MB "
            f"({'met' if alone['server_rss_mb'] <= 100 else 'not met'}), "
            f"{alone['server_cpu_s']:.1f} CPU s for the run.",
            "",
        ]
    prev = previous.get("pyk8s") or {}
    if prev.get("batch") and prev.get("sequential"):
        pload = previous.get("load_average_start_end") or ["?", "?"]
        lines += [
            f"Previous run: batch p99 {prev['batch']['p99_s']:.2f} s, sequential p99 "
            f"{prev['sequential']['p99_s']:.2f} s, server CPU {prev['server_cpu_s']:.1f} s "
            f"(load average {pload[0]} / {pload[1]}).",
            "",
        ]
    section = "\n".join(lines)
    print(section)
    md = HERE / "RESULTS.md"
    text = md.read_text() if md.exists() else "# Benchmark results\n\n"
    start = text.find("## kubelet:")
    if start >= 0:
        end = text.find("\n## ", start + 1)
        text = text[:start] + section + (text[end:] if end >= 0 else "")
    else:
        text = text.rstrip("\n") + "\n\n" + section
    md.write_text(text)


async def main() -> None:
    if os.geteuid() != 0 or shutil.which("runc") is None:
        raise SystemExit("needs root and runc")
    with tempfile.TemporaryDirectory(prefix="pyk8s-bench-kubelet-") as d:
        tmp = Path(d)
        tar = await asyncio.to_thread(busybox_tar, tmp)
        data = tmp / "pyk8s"
        split = tmp / "split"
        for store in (data, split / "kubelet"):
            (store / "images" / "import").mkdir(parents=True)
            shutil.copy(tar, store / "images" / "import" / "busybox.tar")
        print("pyk8s ...", flush=True)
        load0 = os.getloadavg()[0]
        ours = await measure_pyk8s(data)
        print(json.dumps(ours), flush=True)
        print("pyk8s, the kubelet as its own process ...", flush=True)
        ours["kubelet_alone"] = await measure_pyk8s(split, split=True)
        print(json.dumps(ours["kubelet_alone"]), flush=True)
        print("runc run ...", flush=True)
        floor = await measure_runc(tmp, tar)
        write_results(ours, floor, (load0, os.getloadavg()[0]))


if __name__ == "__main__":
    uvloop.run(main())
