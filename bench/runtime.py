"""The container runtime alone: pods started through ``RuncRuntime`` beside plain ``runc run``.

The floor for issue 9's node-density benchmark (which adds the API server, scheduler and
kubelet on top): the same busybox ``sleep`` container started

- by ours: ``run_pod_sandbox`` (netns, UTS/IPC namespaces, shm, /etc files) +
  ``create_container`` (overlayfs, bundle, shim, ``runc create``) + ``start_container``;
- by the reference: ``runc run --detach`` of a prepared bundle with fresh namespaces.

Workloads: ``sequential`` (one pod after another), ``batch`` (all at once), and
``sequential_beside`` (one after another while ``--running`` pods run). Times are per pod,
from the first call to the container running. Ratio = reference time / ours. Also the shims'
memory and the time to remove everything.

Needs root and runc. Writes ``bench/results/runtime.json`` and the ``runtime`` section of
``bench/RESULTS.md``. Run: ``make bench`` or ``.venv/bin/python bench/runtime.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # run as a script from anywhere

import uvloop  # noqa: E402

from pyk8s.kubelet.runtime import cgroups, killall  # noqa: E402
from pyk8s.kubelet.runtime import interface as cri  # noqa: E402
from pyk8s.kubelet.runtime.runc import RuncRuntime  # noqa: E402


def busybox_layer(root: Path) -> Path:
    layer = root / "busybox"
    for d in ("bin", "etc", "tmp", "proc", "sys", "dev"):
        (layer / d).mkdir(parents=True)
    shutil.copy2("/bin/busybox", layer / "bin" / "busybox")
    out = subprocess.run(["/bin/busybox", "--list"], capture_output=True, text=True, check=True)
    for applet in out.stdout.split():
        if applet != "busybox":
            (layer / "bin" / applet).symlink_to("busybox")
    return layer


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, round(p / 100 * (len(s) - 1)))]


class Ours:
    def __init__(self, root: Path, layer: Path) -> None:
        self.rt = RuncRuntime(root / "data")
        self.root = root
        self.layer = layer
        self.n = 0

    async def start_pod(self) -> float:
        self.n += 1
        name = f"bench-{self.n}"  # read before any await
        t0 = time.monotonic()
        sb = cri.PodSandboxConfig(
            metadata=cri.PodSandboxMetadata(name, f"uid-{name}", "default"),
            hostname=name,
            log_directory=str(self.root / "logs" / name),
        )
        sid = await self.rt.run_pod_sandbox(sb)
        cfg = cri.ContainerConfig(
            metadata=cri.ContainerMetadata("c"),
            layers=(str(self.layer),),
            command=("sleep", "100000"),
            log_path="c/0.log",
        )
        cid = await self.rt.create_container(sid, cfg, sb)
        await self.rt.start_container(cid)
        return time.monotonic() - t0

    async def remove_all(self) -> float:
        t0 = time.monotonic()
        sandboxes = await self.rt.list_pod_sandboxes()
        await asyncio.gather(*(self.rt.remove_pod_sandbox(s.id) for s in sandboxes))
        return time.monotonic() - t0

    def shim_memory_kb(self) -> tuple[float, float]:
        rss, pss = [], []
        for pid_file in (self.root / "data" / "runtime" / "containers").glob("*/shim.pid"):
            pid = pid_file.read_text().strip()
            fields = {}
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
                k, v = line.split(":")
                fields[k] = int(v.split()[0])
            rss.append(fields["Rss"])
            pss.append(fields["Pss"])
        return statistics.mean(rss), statistics.mean(pss)

    async def cleanup(self) -> None:
        await killall.killall(self.rt.naming.prefix)


class Floor:
    """``runc run --detach`` of a prepared bundle: the cost of runc itself."""

    def __init__(self, root: Path, layer: Path) -> None:
        self.root = root
        self.runc_root = root / "runc-floor"
        self.layer = layer
        self.n = 0

    async def start_pod(self) -> float:
        self.n += 1
        n = self.n
        bundle = self.root / "floor" / str(n)
        bundle.mkdir(parents=True)
        t0 = time.monotonic()
        spec = {
            "ociVersion": "1.0.2",
            "process": {
                "args": ["sleep", "100000"],
                "cwd": "/",
                "user": {"uid": 0, "gid": 0},
                "env": ["PATH=/bin"],
            },
            "root": {"path": str(self.layer), "readonly": True},
            "hostname": f"floor-{n}",
            "mounts": [{"destination": "/proc", "type": "proc", "source": "proc"}],
            "linux": {
                "namespaces": [{"type": t} for t in ("pid", "mount", "network", "ipc", "uts")],
                "cgroupsPath": f"/pyk8s-bench-floor/{n}",
            },
        }
        await asyncio.to_thread((bundle / "config.json").write_text, json.dumps(spec))
        # The detached container keeps runc's stdio: no pipes, or waiting for EOF never ends.
        proc = await asyncio.create_subprocess_exec(
            "runc", "--root", str(self.runc_root), "run", "--detach", "--bundle", str(bundle),
            f"floor-{n}",
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        if await proc.wait() != 0:
            raise RuntimeError(f"runc run --detach floor-{n} failed")
        return time.monotonic() - t0

    async def cleanup(self) -> None:
        for i in range(1, self.n + 1):
            proc = await asyncio.create_subprocess_exec(
                "runc", "--root", str(self.runc_root), "delete", "--force", f"floor-{i}",
                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
            )  # fmt: skip
            await proc.wait()
        await asyncio.to_thread(cgroups.remove, "/pyk8s-bench-floor")


async def workloads(side: Ours | Floor, pods: int, running: int) -> dict[str, float]:
    out: dict[str, float] = {}
    seq = [await side.start_pod() for _ in range(pods)]
    t0 = time.monotonic()
    batch = await asyncio.gather(*(side.start_pod() for _ in range(pods)))
    out["batch_total_s"] = time.monotonic() - t0
    for _ in range(max(0, running - 2 * pods)):
        await side.start_pod()
    beside = [await side.start_pod() for _ in range(pods)]
    for name, values in (("sequential", seq), ("batch", list(batch)), ("beside", beside)):
        for p in (50, 90, 99):
            out[f"{name}_p{p}_s"] = pct(values, p)
    return out


async def run(pods: int, running: int) -> dict[str, object]:
    root = Path(tempfile.mkdtemp(prefix="pyk8s-bench-runtime-"))
    layer = busybox_layer(root)
    ours, floor = Ours(root, layer), Floor(root, layer)
    load = os.getloadavg()[0]
    try:
        print("ours...", file=sys.stderr)
        o = await workloads(ours, pods, running)
        rss, pss = ours.shim_memory_kb()
        o["remove_all_s"] = await ours.remove_all()
        print("runc run...", file=sys.stderr)
        f = await workloads(floor, pods, running)
    finally:
        await ours.cleanup()
        await floor.cleanup()
        shutil.rmtree(root, ignore_errors=True)
    result: dict[str, object] = {
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cpus, "
        f"Linux {platform.release()}, Python {platform.python_version()}",
        "load_average_at_start": round(load, 1),
        "pods": pods,
        "running_beside": running,
        "shim_rss_kb": round(rss),
        "shim_pss_kb": round(pss),
    }
    for k, v in o.items():
        result[f"ours_{k}"] = round(v, 4)
    for k, v in f.items():
        result[f"runc_{k}"] = round(v, 4)
    for k in f:
        if k != "remove_all_s":
            result[f"{k.removesuffix('_s')}_speed_ratio_vs_runc"] = round(f[k] / o[k], 3)
    return result


def write_markdown(r: dict[str, object]) -> None:
    def f(key: str) -> float:
        v = r[key]
        assert isinstance(v, int | float)
        return float(v)

    lines = [
        "## runtime: pods through RuncRuntime beside plain runc run",
        "",
        f"{r['machine']}; `bench/runtime.py`; {r['pods']} pods per workload, the last one "
        f"beside {r['running_beside']} running pods; load average at start "
        f"{r['load_average_at_start']}. Per pod: sandbox + container created and started "
        "(ours) against `runc run --detach` of a prepared bundle (runc). Ratio = runc / ours.",
        "",
        "| workload | ours p50 / p99 s | runc p50 / p99 s | p50 ratio | p99 ratio |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for w, label in (("sequential", "one after another"), ("batch", "all at once"),
                     ("beside", "one after another, beside running pods")):  # fmt: skip
        lines.append(
            f"| {label} | {f(f'ours_{w}_p50_s'):.3f} / {f(f'ours_{w}_p99_s'):.3f} | "
            f"{f(f'runc_{w}_p50_s'):.3f} / {f(f'runc_{w}_p99_s'):.3f} | "
            f"{f(f'{w}_p50_speed_ratio_vs_runc'):.2f}x | {f(f'{w}_p99_speed_ratio_vs_runc'):.2f}x |"
        )
    lines += [
        "",
        f"Batch of {r['pods']}: ours {f('ours_batch_total_s'):.2f} s, runc "
        f"{f('runc_batch_total_s'):.2f} s. Shim per container: {f('shim_rss_kb') / 1024:.1f} MB "
        f"RSS, {f('shim_pss_kb') / 1024:.1f} MB PSS. Removing every pod: "
        f"{f('ours_remove_all_s'):.2f} s.",
        "",
    ]
    section = "\n".join(lines)
    print(section)
    md = HERE / "RESULTS.md"
    text = md.read_text() if md.exists() else "# Benchmark results\n\n"
    start = text.find("## runtime:")
    if start >= 0:
        end = text.find("\n## ", start + 1)
        text = text[:start] + section + (text[end + 1 :] if end >= 0 else "")
    else:
        text = text.rstrip("\n") + "\n\n" + section
    md.write_text(text)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--pods", type=int, default=10)
    p.add_argument("--running", type=int, default=50, help="pods running beside the last run")
    args = p.parse_args()
    if os.geteuid() != 0 or shutil.which("runc") is None:
        sys.exit("bench/runtime.py needs root and runc")
    result = uvloop.run(run(args.pods, args.running))
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "runtime.json").write_text(json.dumps(result, indent=2) + "\n")
    write_markdown(result)


if __name__ == "__main__":
    main()
