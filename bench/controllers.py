"""The controllers at scale: 100 Deployments x 10 replicas, a rolling update of all, idle CPU.

Runs a real ``pyk8s server`` process (SQLite, its default store; controllers
in-process; no scheduler, no kubelet) and drives it with our REST client.

- create: 100 Deployments of 10 replicas created at once; time until all
  1,000 pods exist. Reference: the same client creating 1,000 pods directly
  (32 at a time), which is what the API server alone can take; the ratio is what
  the controllers' chain (Deployment -> ReplicaSet -> pods) costs on top.
- rolling update: a new image in all 100; time until every Deployment reports
  the rollout complete (what ``kubectl rollout status`` waits for). A stand-in
  for kubelets marks new pods Running and Ready (one status patch each), so
  the time includes those 1,000 patches.
- idle: the server's CPU (user + system, from /proc) over 30 s with the 1,000
  pods and 100 Deployments in place; target under 3% of one core.

Run: ``.venv/bin/python bench/controllers.py``; writes
``bench/results/controllers.json`` and its section of ``bench/RESULTS.md``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from pyk8s.api import errors, meta  # noqa: E402
from pyk8s.client import rest  # noqa: E402

DEPLOYMENTS = rest.for_kind("apps/v1", "Deployment")
PODS = rest.for_kind("v1", "Pod")
NAMESPACES = rest.for_kind("v1", "Namespace")
COUNT = int(os.environ.get("BENCH_DEPLOYMENTS", "100"))
REPLICAS = 10
IDLE_SECONDS = 30.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def deployment(i: int, image: str) -> dict[str, Any]:
    labels = {"app": f"d{i:03d}"}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": f"d{i:03d}"},
        "spec": {
            "replicas": REPLICAS,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "c", "image": image}]},
            },
        },
    }


def pod(i: int) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": f"p{i:04d}", "labels": {"app": "ref"}},
        "spec": {"containers": [{"name": "c", "image": "nginx"}]},
    }


async def gather_limited(n: int, coros: list[Any]) -> None:
    sem = asyncio.Semaphore(n)

    async def one(c: Any) -> None:
        async with sem:
            await c

    await asyncio.gather(*(one(c) for c in coros))


async def count_pods(client: rest.Client, ns: str) -> int:
    items = (await client.list(PODS, ns))["items"]
    return sum(1 for p in items if not p["metadata"].get("deletionTimestamp"))


async def wait_for(check: Any, timeout: float = 900.0, interval: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise TimeoutError("benchmark condition not reached")
        await asyncio.sleep(interval)


async def reference(client: rest.Client) -> float:
    await client.create(NAMESPACES, {"metadata": {"name": "ref"}})
    start = time.perf_counter()
    await gather_limited(32, [client.create(PODS, pod(i), "ref") for i in range(COUNT * REPLICAS)])
    elapsed = time.perf_counter() - start
    await client.delete(NAMESPACES, "ref")

    async def gone() -> bool:
        try:
            await client.get(NAMESPACES, "ref")
            return False
        except errors.NotFound:
            return True

    await wait_for(gone)
    return elapsed


async def watch_pods(client: rest.Client, ns: str, on_pod: Any) -> None:
    """Call ``on_pod`` with every pod of ``ns`` now and on every change (until cancelled)."""
    while True:
        listing = await client.list(PODS, ns)
        for p in listing["items"]:
            on_pod(p)
        gen = client.watch(
            PODS, ns, resource_version=listing["metadata"]["resourceVersion"], timeout_seconds=300
        )
        try:
            async with contextlib.aclosing(gen) as stream:
                async for ev in stream:
                    if ev.type in ("ADDED", "MODIFIED"):
                        on_pod(ev.object)
        except errors.Gone:
            continue


async def mark_ready(client: rest.Client, ns: str) -> None:
    """The kubelet stand-in: every new pod becomes Running and Ready (one status patch)."""
    done: set[str] = set()
    sem = asyncio.Semaphore(16)
    tasks: set[asyncio.Task[None]] = set()

    async def ready(name: str) -> None:
        async with sem:
            now = meta.now()
            status = {
                "status": {
                    "phase": "Running",
                    "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": now}],
                }
            }
            with contextlib.suppress(errors.NotFound, errors.Conflict):
                await client.patch(PODS, name, status, ns, subresource="status")

    def on_pod(p: dict[str, Any]) -> None:
        md = p["metadata"]
        if md["uid"] in done or md.get("deletionTimestamp"):
            return
        done.add(md["uid"])
        task = asyncio.create_task(ready(md["name"]))
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    await watch_pods(client, ns, on_pod)


async def all_complete(client: rest.Client, ns: str, image: str) -> bool:
    items = (await client.list(DEPLOYMENTS, ns))["items"]
    if len(items) != COUNT:
        return False
    for d in items:
        st = d.get("status") or {}
        if d["spec"]["template"]["spec"]["containers"][0]["image"] != image:
            return False
        if int(st.get("observedGeneration") or 0) < d["metadata"]["generation"]:
            return False
        if not (
            st.get("updatedReplicas") == REPLICAS
            and st.get("replicas") == REPLICAS
            and st.get("availableReplicas") == REPLICAS
        ):
            return False
    return True


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def start_server(tmp: str, log: Any) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pyk8s",
            "server",
            "--data-dir",
            tmp,
            "--https-port",
            str(free_port()),
            "--bind-address",
            "127.0.0.1",
            "--disable-scheduler",
            "--disable-agent",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )


async def run(tmp: str, proc: subprocess.Popen[bytes]) -> dict[str, Any]:
    kubeconfig = Path(tmp) / "kubeconfig.yaml"
    for _ in range(600):
        if kubeconfig.exists():
            break
        await asyncio.sleep(0.1)
    client = await rest.Client.from_kubeconfig(kubeconfig)
    async with client:

        async def up() -> bool:
            try:
                await client.get(NAMESPACES, "default")
                return True
            except Exception:
                return False

        await wait_for(up, 60)
        await asyncio.sleep(3)  # controllers elected and synced
        ref_s = await reference(client)
        ns = "bench"
        await client.create(NAMESPACES, {"metadata": {"name": ns}})
        seen: set[str] = set()
        counter = asyncio.create_task(
            watch_pods(client, ns, lambda p: seen.add(p["metadata"]["name"]))
        )

        async def all_pods() -> bool:
            return len(seen) >= COUNT * REPLICAS

        await asyncio.sleep(0.5)
        start = time.perf_counter()
        await gather_limited(
            32,
            [client.create(DEPLOYMENTS, deployment(i, "nginx:1"), ns) for i in range(COUNT)],
        )

        await wait_for(all_pods)
        create_s = time.perf_counter() - start
        counter.cancel()
        stand_in = asyncio.create_task(mark_ready(client, ns))
        await wait_for(lambda: all_complete(client, ns, "nginx:1"), interval=1.0)
        start = time.perf_counter()
        await gather_limited(
            32,
            [
                client.patch(
                    DEPLOYMENTS,
                    f"d{i:03d}",
                    {
                        "spec": {
                            "template": {
                                "spec": {"containers": [{"name": "c", "image": "nginx:2"}]}
                            }
                        }
                    },
                    ns,
                )
                for i in range(COUNT)
            ],
        )
        await wait_for(lambda: all_complete(client, ns, "nginx:2"), interval=1.0)
        rolling_s = time.perf_counter() - start
        stand_in.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await stand_in
        pods_now = await count_pods(client, ns)
        await asyncio.sleep(10)  # let the last status writes settle
        before, t0 = cpu_seconds(proc.pid), time.monotonic()
        await asyncio.sleep(IDLE_SECONDS)
        idle = (cpu_seconds(proc.pid) - before) / (time.monotonic() - t0)
    pods_total = COUNT * REPLICAS
    return {
        "deployments": COUNT,
        "replicas": REPLICAS,
        "create_s": create_s,
        "create_pods_per_s": pods_total / create_s,
        "reference_direct_pods_s": ref_s,
        "reference_direct_pods_per_s": pods_total / ref_s,
        "create_ratio": create_s / ref_s,
        "rolling_update_s": rolling_s,
        "rolling_update_pods_per_s": pods_total / rolling_s,
        "pods_at_idle": pods_now,
        "idle_cpu_percent_of_one_core": idle * 100,
        "idle_target_met": idle * 100 < 3.0,
        "machine": f"{platform.machine()} {os.cpu_count()} cpus, {platform.python_version()}",
        "loadavg": os.getloadavg()[0],
    }


def main() -> None:
    with (
        tempfile.TemporaryDirectory(prefix="pyk8s-bench-") as tmp,
        open(Path(tmp) / "server.log", "wb") as log,
    ):
        proc = start_server(tmp, log)
        try:
            r = asyncio.run(run(tmp, proc))
        finally:
            proc.terminate()
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "controllers.json").write_text(json.dumps(r, indent=2) + "\n")
    section = [
        "## controllers: 100 Deployments x 10 replicas, a rolling update of all, idle CPU",
        "",
        f"A `pyk8s server` process (SQLite, controllers in-process, no scheduler or kubelet);"
        f" {r['machine']}; load average {r['loadavg']:.1f}. Reference for creation: the same"
        " client creating the 1,000 pods itself (32 at a time). The rolling update includes"
        " a kubelet stand-in's 1,000 status patches marking new pods Ready.",
        "",
        "| measure | ours | reference | ratio | target (issue 6) | met |",
        "| --- | ---: | ---: | ---: | --- | --- |",
        f"| {r['deployments']} Deployments created -> all {r['deployments'] * r['replicas']} pods"
        f" exist, s (pods/s) | {r['create_s']:.1f} ({r['create_pods_per_s']:.0f}) |"
        f" {r['reference_direct_pods_s']:.1f} ({r['reference_direct_pods_per_s']:.0f}) |"
        f" {r['create_ratio']:.2f}x | | |",
        f"| rolling update of all {r['deployments']}, s (pods/s) | {r['rolling_update_s']:.1f}"
        f" ({r['rolling_update_pods_per_s']:.0f}) | | | | |",
        f"| server CPU at idle with {r['pods_at_idle']} pods, % of one core |"
        f" {r['idle_cpu_percent_of_one_core']:.2f} | | | < 3% |"
        f" {'yes' if r['idle_target_met'] else 'no'} |",
        "",
    ]
    md = HERE / "RESULTS.md"
    text = md.read_text() if md.exists() else "# Benchmark results\n\n"
    head = section[0]
    if head in text:
        start = text.index(head)
        nxt = text.find("\n## ", start + 1)
        text = text[:start] + "\n".join(section) + (text[nxt + 1 :] if nxt >= 0 else "")
    else:
        text = text.rstrip("\n") + "\n\n" + "\n".join(section)
    md.write_text(text)
    print("\n".join(section))


if __name__ == "__main__":
    main()
