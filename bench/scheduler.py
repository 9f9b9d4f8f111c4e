"""Scheduling throughput through the real API server, shaped like upstream's scheduler_perf.

Cases (``test/integration/scheduler_perf/config/performance-config.yaml``):
SchedulingBasic at 500 nodes / 1,000 pods and at 5,000 nodes / 10,000 pods with
1,000 pods already placed, and SchedulingPodAntiAffinity (500 nodes, 100 placed,
400 measured, required anti-affinity on ``kubernetes.io/hostname``). Nodes are plain
objects (4 cpus, 32Gi, 110 pods, Ready; no kubelet); pods request 100m / 500Mi.

For each case a fresh ``pyk8s server`` is started as users run it: one process with
SQLite, the API server and the controllers, and the scheduler as its supervised child
process (``pyk8s scheduler``). This process creates the nodes and placed pods, waits
for the scheduler to hold its Lease, then creates the measured pods as fast as the
server takes them while a watch notes when each one gets its ``nodeName``.
Throughput is measured pods / (last bind - first create), and as upstream's
SchedulingThroughput does, per-second samples give p50/p90/p99 (the samples are in
the JSON). ``--in-process`` also measures ``pyk8s server --in-process-components``
(the scheduler in the server's process, sharing its core).

There is no kube-scheduler binary to run beside it here (no registry ships one),
so the reference is our own scheduler core at the same sizes over in-memory seams
(no API, no HTTP, no JSON): the ratio says what the API round trips cost. The
target is SIG-scalability's 100 pods/s at 5,000 nodes (issue 7).

Run: ``.venv/bin/python bench/scheduler.py [--quick] [--in-process]``; writes
``bench/results/scheduler.json`` and its section of ``bench/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import random
import socket
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from subprocess import STDOUT
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from pyk8s.api import errors  # noqa: E402
from pyk8s.client import rest  # noqa: E402
from pyk8s.scheduler import config, eventhandlers  # noqa: E402
from pyk8s.scheduler.fake import FakeSeams  # noqa: E402
from pyk8s.scheduler.plugins.registry import IN_TREE  # noqa: E402
from pyk8s.scheduler.scheduler import Scheduler  # noqa: E402

PODS = rest.ResourceRef("", "v1", "pods", True, "Pod")
LEASES = rest.ResourceRef("coordination.k8s.io", "v1", "leases", True, "Lease")
NODES = rest.ResourceRef("", "v1", "nodes", False, "Node")
NAMESPACES = rest.ResourceRef("", "v1", "namespaces", False, "Namespace")
NS = "bench"
CREATORS = 32
TARGET_PODS_PER_S = 100.0


@dataclass
class Case:
    name: str
    nodes: int
    placed: int
    pods: int
    anti_affinity: bool = False


CASES = [
    Case("SchedulingBasic 500 nodes", 500, 0, 1000),
    Case("SchedulingBasic 5000 nodes", 5000, 1000, 10000),
    Case("SchedulingPodAntiAffinity 500 nodes", 500, 100, 400, anti_affinity=True),
]
QUICK = [
    Case("SchedulingBasic 100 nodes", 100, 0, 1000),
    Case("SchedulingPodAntiAffinity 100 nodes", 100, 20, 80, anti_affinity=True),
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def node(i: int) -> dict[str, Any]:
    name = f"scheduler-perf-{i:05d}"
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
        "status": {
            "capacity": {"pods": "110", "cpu": "4", "memory": "32Gi"},
            "allocatable": {"pods": "110", "cpu": "4", "memory": "32Gi"},
            "conditions": [{"type": "Ready", "status": "True"}],
            "phase": "Running",
        },
    }


def pod(name: str, anti_affinity: bool, node_name: str = "") -> dict[str, Any]:
    spec: dict[str, Any] = {
        "containers": [
            {
                "name": "pause",
                "image": "registry.k8s.io/pause:3.10",
                "ports": [{"containerPort": 80}],
                "resources": {
                    "limits": {"cpu": "100m", "memory": "500Mi"},
                    "requests": {"cpu": "100m", "memory": "500Mi"},
                },
            }
        ]
    }
    labels = {"name": "test"}
    if anti_affinity:
        labels["color"] = "green"
        spec["affinity"] = {
            "podAntiAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": [
                    {
                        "labelSelector": {"matchLabels": {"color": "green"}},
                        "topologyKey": "kubernetes.io/hostname",
                    }
                ]
            }
        }
    if node_name:
        spec["nodeName"] = node_name
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": NS, "labels": labels},
        "spec": spec,
    }


async def create_all(client: rest.Client, ref: rest.ResourceRef, objs: list[Any]) -> float:
    """Create ``objs`` with CREATORS requests in flight; returns the seconds it took."""
    it = iter(objs)
    start = time.perf_counter()

    async def worker() -> None:
        for obj in it:
            ns = obj["metadata"].get("namespace")
            for attempt in range(5):
                try:
                    await client.create(ref, obj, ns)
                    break
                except errors.AlreadyExists:
                    break
                except errors.ApiError:
                    if attempt == 4:
                        raise
                    await asyncio.sleep(0.2)

    await asyncio.gather(*(worker() for _ in range(CREATORS)))
    return time.perf_counter() - start


@contextlib.asynccontextmanager
async def cluster(
    tmp: Path, in_process: bool
) -> AsyncIterator[tuple[rest.Client, asyncio.subprocess.Process]]:
    """``pyk8s server`` (scheduler in a child process, or in its own) until the block ends."""
    port = free_port()
    log = (tmp / "server.log").open("ab")
    server_args = ["--data-dir", str(tmp), "--https-port", str(port), "--bind-address"]
    server_args += ["127.0.0.1"]
    # no kubelet (scheduler_perf has none: nodes are objects), and ranges of its own, so
    # that it starts beside other clusters on this machine
    server_args += ["--disable-agent"]
    server_args += ["--cluster-cidr", "10.211.0.0/16", "--service-cidr", "10.212.0.0/16"]
    if in_process:
        server_args.append("--in-process-components")
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "pyk8s",
            "server",
            *server_args,
            stdout=log,
            stderr=STDOUT,
            cwd=HERE.parent,
        )
    ]
    kubeconfig = tmp / "kubeconfig.yaml"
    try:
        deadline = time.monotonic() + 60
        while not kubeconfig.exists():
            if procs[0].returncode is not None or time.monotonic() > deadline:
                raise RuntimeError(f"pyk8s server did not start; see {tmp / 'server.log'}")
            await asyncio.sleep(0.2)
        client = await rest.Client.from_kubeconfig(kubeconfig)
        async with client:
            while True:
                try:
                    await client.create(NAMESPACES, {"metadata": {"name": NS}}, None)
                    break
                except errors.AlreadyExists:
                    break
                except Exception:
                    if time.monotonic() > deadline:
                        raise
                    await asyncio.sleep(0.2)
            yield client, procs[0]
    finally:
        for p in procs:
            if p.returncode is None:
                p.terminate()
        for p in procs:
            try:
                await asyncio.wait_for(p.wait(), 20)
            except TimeoutError:
                p.kill()
                await p.wait()
        log.close()


def _cpu(pid: int) -> float:
    """User + system seconds of one process."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_seconds(server: int) -> dict[str, float]:
    """CPU seconds of the server process and of its scheduler child (0 when none)."""
    out = {"server": _cpu(server), "scheduler": 0.0}
    for tid in os.listdir(f"/proc/{server}/task"):
        with open(f"/proc/{server}/task/{tid}/children") as f:
            for child in f.read().split():
                with open(f"/proc/{child}/cmdline", "rb") as c:
                    if b"scheduler" in c.read().split(b"\0"):
                        out["scheduler"] += _cpu(int(child))
    return out


async def watch_binds(
    client: rest.Client, rv: str, want: int, started: asyncio.Event
) -> list[float]:
    """Monotonic times at which measured pods were first seen with a nodeName."""
    seen: set[str] = set()
    times: list[float] = []

    def note(obj: dict[str, Any]) -> None:
        name = (obj.get("metadata") or {}).get("name", "")
        if name.startswith("pod-") and name not in seen and (obj.get("spec") or {}).get("nodeName"):
            seen.add(name)
            times.append(time.perf_counter())

    while len(times) < want:
        gen = client.watch(PODS, NS, resource_version=rv, allow_bookmarks=True)
        try:
            async with contextlib.aclosing(gen) as stream:
                started.set()
                async for ev in stream:
                    rv = (ev.object.get("metadata") or {}).get("resourceVersion", rv)
                    note(ev.object)
                    if len(times) >= want:
                        break
        except errors.Gone:  # compacted past our revision: relist, as an informer would
            listing = await client.list(PODS, NS)
            for obj in listing["items"]:
                note(obj)
            rv = listing["metadata"]["resourceVersion"]
    return times


def throughput(start: float, times: list[float]) -> dict[str, Any]:
    """Average, and per-second samples' percentiles (upstream SchedulingThroughput)."""
    elapsed = max(times) - start
    buckets = [0] * (int(elapsed) + 1)
    for t in times:
        buckets[int(t - start)] += 1
    full = buckets[:-1] or buckets  # the last second is partial
    ordered = sorted(full)

    def perc(p: float) -> float:
        return float(ordered[min(len(ordered) - 1, int(p * len(ordered)))])

    return {
        "per_second": buckets,
        "seconds": elapsed,
        "average": len(times) / elapsed,
        "p50": perc(0.5),
        "p90": perc(0.9),
        "p99": perc(0.99),
    }


async def scheduler_leads(client: rest.Client, timeout: float = 120) -> None:
    """Wait for a scheduler to hold ``kube-system/kube-scheduler`` (it schedules from then)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            lease = await client.get(LEASES, "kube-scheduler", "kube-system")
            if (lease.get("spec") or {}).get("holderIdentity"):
                return
        except errors.NotFound:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError("no scheduler took the kube-scheduler Lease")
        await asyncio.sleep(0.2)


async def through_api(case: Case, in_process: bool) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="pyk8s-bench-sched-") as tmp:
        async with cluster(Path(tmp), in_process) as (client, proc):
            nodes = [node(i) for i in range(case.nodes)]
            node_s = await create_all(client, NODES, nodes)
            placed = [
                pod(
                    f"placed-{i:05d}",
                    case.anti_affinity,
                    nodes[i % case.nodes]["metadata"]["name"],
                )
                for i in range(case.placed)
            ]
            await create_all(client, PODS, placed)
            await scheduler_leads(client)
            await asyncio.sleep(2)  # the scheduler's informers catch up with the nodes
            rv = (await client.list(PODS, NS, limit=1))["metadata"]["resourceVersion"]
            started = asyncio.Event()
            watcher = asyncio.create_task(watch_binds(client, rv, case.pods, started))
            await started.wait()
            measured = [pod(f"pod-{i:05d}", case.anti_affinity) for i in range(case.pods)]
            cpu_before = cpu_seconds(proc.pid)
            start = time.perf_counter()
            create_s = await create_all(client, PODS, measured)
            times = await asyncio.wait_for(watcher, 1800)
            cpu_after = cpu_seconds(proc.pid)
            out = throughput(start, times)
            # CPU per measured pod of the server process and of its scheduler child: what
            # the neighbours' load does not change (the server's includes creating the pods)
            out["server_cpu_ms_per_pod"] = (
                1000 * (cpu_after["server"] - cpu_before["server"]) / case.pods
            )
            if not in_process:
                out["scheduler_cpu_ms_per_pod"] = (
                    1000 * (cpu_after["scheduler"] - cpu_before["scheduler"]) / case.pods
                )
            out["create_pods_per_s"] = case.pods / create_s
            out["create_nodes_per_s"] = case.nodes / node_s
            return out


async def core_alone(case: Case) -> dict[str, Any]:
    """The reference: our scheduler's cycles over in-memory seams, fed as informers would."""
    fakes = FakeSeams()
    objects: dict[tuple[str, str], dict[str, Any]] = {}
    frameworks = config.build_frameworks(
        config.KubeSchedulerConfiguration(), IN_TREE, fakes.seams()
    )
    sched = Scheduler(frameworks, rand=random.Random(1), get_pod=lambda ns, n: objects.get((ns, n)))
    nodes = [node(i) for i in range(case.nodes)]
    for n in nodes:
        eventhandlers.on_node_add(sched, n)
    uid = 0

    def add(p: dict[str, Any]) -> None:
        nonlocal uid
        uid += 1
        p["metadata"]["uid"] = f"uid-{uid}"
        p["metadata"]["creationTimestamp"] = "2026-01-01T00:00:00Z"
        p.setdefault("status", {"phase": "Pending"})
        objects[(NS, p["metadata"]["name"])] = p
        eventhandlers.on_pod_add(sched, p)

    for i in range(case.placed):
        add(pod(f"placed-{i:05d}", case.anti_affinity, nodes[i % case.nodes]["metadata"]["name"]))
    for i in range(case.pods):
        add(pod(f"pod-{i:05d}", case.anti_affinity))
    times: list[float] = []
    start = time.perf_counter()
    cpu_start = time.process_time()
    while len(times) < case.pods:
        before = len(fakes.binder.bindings)
        try:
            await asyncio.wait_for(sched.schedule_one_and_bind(), 30)
        except TimeoutError:
            raise RuntimeError("the reference left pods unscheduled") from None
        for b in fakes.binder.bindings[before:]:
            key = (b["metadata"]["namespace"], b["metadata"]["name"])
            old = objects[key]
            new = {**old, "spec": {**old["spec"], "nodeName": b["target"]["name"]}}
            objects[key] = new
            eventhandlers.on_pod_update(sched, old, new)
            times.append(time.perf_counter())
    out = throughput(start, times)
    # on a shared machine wall time mostly measures the neighbours: CPU time does not
    out["cpu_pods_per_s"] = case.pods / max(time.process_time() - cpu_start, 1e-9)
    return out


async def run(cases: list[Case], in_process: bool) -> dict[str, Any]:
    results: dict[str, Any] = {
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cpus, "
        f"Python {platform.python_version()}",
        "loadavg": os.getloadavg()[0],
        "cases": [],
    }
    for case in cases:
        row: dict[str, Any] = {"case": case.name, "nodes": case.nodes, "placed": case.placed}
        row["pods"] = case.pods
        print(f"{case.name}: through pyk8s server (scheduler child process) ...", flush=True)
        row["server"] = await through_api(case, in_process=False)
        if in_process:
            print(f"{case.name}: pyk8s server --in-process-components ...", flush=True)
            row["in_process"] = await through_api(case, in_process=True)
        print(f"{case.name}: scheduler core alone ...", flush=True)
        row["core"] = await core_alone(case)
        row["ratio_to_core"] = row["server"]["average"] / row["core"]["average"]
        results["cases"].append(row)
        print(json.dumps(row, indent=1), flush=True)
    results["loadavg_end"] = os.getloadavg()[0]
    return results


def flat(results: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "machine": results["machine"],
        "loadavg": results["loadavg"],
        "loadavg_end": results.get("loadavg_end", 0.0),
    }
    for row in results["cases"]:
        key = row["case"].lower().replace(" ", "_")
        for mode in ("server", "in_process", "core"):
            if mode in row:
                out[f"{key}_{mode}_pods_per_s"] = round(row[mode]["average"], 1)
        out[f"{key}_ratio_to_core"] = round(row["ratio_to_core"], 3)
        for k in ("server_cpu_ms_per_pod", "scheduler_cpu_ms_per_pod"):
            if k in row["server"]:
                out[f"{key}_{k}"] = round(row["server"][k], 2)
    out["cases"] = results["cases"]
    return out


def idle_estimate(row: dict[str, Any]) -> float:
    """Pods/s when the server and the scheduler child each have a core: the slower bounds."""
    worst = max(row.get("server_cpu_ms_per_pod", 0.0), row.get("scheduler_cpu_ms_per_pod", 0.0))
    return 1000 / worst if worst else 0.0


def section(results: dict[str, Any]) -> str:
    inproc = any("in_process" in r for r in results["cases"])
    lines = [
        "## scheduler: scheduling throughput through the API server",
        "",
        f"{results['machine']}; load average {results['loadavg']:.1f} at the start and"
        f" {results.get('loadavg_end', 0.0):.1f} at the end (the machine is shared: figures"
        " swing 2-4x between runs); `bench/scheduler.py"
        + (" --in-process" if inproc else "")
        + "`. Shaped like upstream's"
        " scheduler_perf: nodes as objects (4 cpus, 32Gi, 110 pods), pods requesting 100m /"
        " 500Mi, created 32 at a time"
        " while a watch notes each bind. Throughput = measured pods / (last bind - first"
        " create); p50/p90/p99 are of per-second samples. `pyk8s server` as users run it:"
        " SQLite, the API server and the controllers in one process, the scheduler in its"
        " supervised child process (`--disable-agent`: no kubelet, as in scheduler_perf)."
        + (
            " `in-process`: `pyk8s server --in-process-components`, the scheduler in the"
            " server's process."
            if inproc
            else ""
        ),
        "Reference: no kube-scheduler can be run here, so the reference is our own scheduler"
        " core at the same sizes over in-memory seams (no API, HTTP or JSON); the ratio is the"
        " share of the core's speed that survives the API round trips. `core pods per CPU s`:"
        " the core's pods per second of its own CPU time, which the neighbours' load does"
        " not change. `CPU ms/pod`: CPU time of the server process (API server, storage,"
        " controllers; it also serves this client's creates and watch) and of the scheduler"
        " child over the measured phase, per measured pod; `pods/s on 2 idle cores`:"
        " 1000 / the larger of the two, what the pair sustains when each process has a core"
        " (an estimate from CPU time, not a measurement: this machine is never idle).",
        "",
        "| case | nodes | placed | pods | pods/s avg | p50 / p90 / p99 | "
        + ("in-process pods/s | " if inproc else "")
        + "pods created/s | server / scheduler CPU ms/pod | pods/s on 2 idle cores |"
        " core alone pods/s | core pods per CPU s | ratio to core | target |",
        "| --- | ---: | ---: | ---: | ---: | --- | "
        + ("---: | " if inproc else "")
        + "---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for r in results["cases"]:
        s = r["server"]
        target = ""
        if r["nodes"] >= 5000 and not r["case"].startswith("SchedulingPodAnti"):
            met = "met" if s["average"] >= TARGET_PODS_PER_S else "not met"
            target = f">= {TARGET_PODS_PER_S:.0f} pods/s: {met}"
        lines.append(
            f"| {r['case']} | {r['nodes']:,} | {r['placed']:,} | {r['pods']:,} |"
            f" {s['average']:.1f} | {s['p50']:.0f} / {s['p90']:.0f} / {s['p99']:.0f} |"
            + (f" {r['in_process']['average']:.1f} |" if inproc else "")
            + f" {s['create_pods_per_s']:.0f} |"
            f" {s.get('server_cpu_ms_per_pod', 0.0):.1f} /"
            f" {s.get('scheduler_cpu_ms_per_pod', 0.0):.1f} |"
            f" {idle_estimate(s):.0f} |"
            f" {r['core']['average']:.1f} |"
            f" {r['core'].get('cpu_pods_per_s', 0.0):.0f} |"
            f" {r['ratio_to_core']:.2f}x | {target} |"
        )
    lines.append("")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (100 nodes)")
    parser.add_argument(
        "--in-process",
        action="store_true",
        help="also pyk8s server --in-process-components (the scheduler in the server's process)",
    )
    parser.add_argument("--case", action="append", help="only cases whose name contains this")
    args = parser.parse_args()
    cases = QUICK if args.quick else CASES
    if args.case:
        cases = [c for c in cases if any(s in c.name for s in args.case)]
    results = asyncio.run(run(cases, args.in_process))
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "scheduler.json").write_text(json.dumps(flat(results), indent=2) + "\n")
    text_section = section(results)
    print(text_section)
    md = HERE / "RESULTS.md"
    text = md.read_text() if md.exists() else "# Benchmark results\n\n"
    start = text.find("## scheduler:")
    if start >= 0:
        end = text.find("\n## ", start + 1)
        text = text[:start] + text_section + (text[end + 1 :] if end >= 0 else "")
    else:
        text = text.rstrip("\n") + "\n\n" + text_section
    md.write_text(text)


if __name__ == "__main__":
    main()
