"""The API server workload of issue 4, over HTTPS, against pyk8s and (when running) a
real kube-apiserver, beside the storage layer alone.

Phases, each with 1 and 16 concurrent clients: ``create``, ``get``, ``update`` (PUT
with the current resourceVersion) and ``delete`` of Pods; ``list`` of 3,000 Pods in
one namespace as JSON and as a Table; ``watch``: one watcher while 16 writers create
ConfigMaps, events/s and write-returned -> event-received latency. An ``update`` is a
GET then a PUT (what a client does). The storage layer alone (SQLite through
``storage.Interface``, in process) runs the same create / get / update / delete, so
the API server's own overhead shows.

pyk8s runs as ``pyk8s apiserver`` (SQLite, its default) in a subprocess on free
ports. The reference is kube-apiserver v1.20.2 with etcd 3.4 (``bench/refcluster.py``):
the cluster ``REF_KUBECONFIG`` names, else one started here from the binaries
``hack/build-reference.sh`` cached (``make reference``) and stopped after; without either
the pyk8s columns are printed alone. Both run in one go, so the ratios see the same load.
Writes ``bench/results/apiserver.json`` and the ``apiserver`` section of
``bench/RESULTS.md``. Run: ``.venv/bin/python bench/apiserver.py [--pods N]``.
"""

from __future__ import annotations

import argparse
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
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import orjson  # noqa: E402
import refcluster  # noqa: E402
import uvloop  # noqa: E402

from pyk8s.api import errors  # noqa: E402
from pyk8s.client import rest  # noqa: E402
from pyk8s.storage.sqlite.log import SqliteStorage  # noqa: E402

TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"
CONCURRENCY = (1, 16)


@dataclass
class Result:
    ops_per_s: float
    p50_ms: float
    p99_ms: float


def _summary(latencies: list[float], elapsed: float) -> Result:
    lat = sorted(latencies)
    if not lat:
        return Result(0.0, 0.0, 0.0)
    return Result(
        len(lat) / elapsed,
        lat[len(lat) // 2] * 1000,
        lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000,
    )


async def _run(n: int, conc: int, op: Callable[[int], Awaitable[Any]]) -> Result:
    latencies: list[float] = []
    queue = iter(range(n))

    async def worker() -> None:
        for i in queue:
            t = time.perf_counter()
            await op(i)
            latencies.append(time.perf_counter() - t)

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(conc)))
    return _summary(latencies, time.perf_counter() - start)


def pod(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {"app": "bench"}},
        "spec": {"containers": [{"name": "c", "image": "busybox", "command": ["sleep", "1"]}]},
    }


async def api_phases(client: rest.Client, ns: str, n: int, list_pods: int) -> dict[str, Result]:
    out: dict[str, Result] = {}
    base = f"/api/v1/namespaces/{ns}/pods"
    await create_namespace(client, ns)
    for conc in CONCURRENCY:
        prefix = f"p{conc}-"
        out[f"create_c{conc}"] = await _run(
            n, conc, lambda i, p=prefix: client.request("POST", base, body=pod(f"{p}{i}"))
        )
        out[f"get_c{conc}"] = await _run(
            n, conc, lambda i, p=prefix: client.request("GET", f"{base}/{p}{i}")
        )

        async def update(i: int, p: str = prefix) -> None:
            obj = await client.request("GET", f"{base}/{p}{i}")
            obj["metadata"].setdefault("labels", {})["touched"] = "yes"
            await client.request("PUT", f"{base}/{p}{i}", body=obj)

        out[f"update_c{conc}"] = await _run(n, conc, update)
        out[f"delete_c{conc}"] = await _run(
            n,
            conc,
            lambda i, p=prefix: client.request(
                "DELETE", f"{base}/{p}{i}", params={"gracePeriodSeconds": "0"}
            ),
        )
    list_ns = ns + "-list"
    await create_namespace(client, list_ns)
    lbase = f"/api/v1/namespaces/{list_ns}/pods"
    await _run(list_pods, 16, lambda i: client.request("POST", lbase, body=pod(f"l{i}")))
    session = await client._open()
    headers = await client._auth_headers()

    async def list_as(accept: str) -> None:
        async with session.get(
            client.config.server + lbase,
            headers={**headers, "Accept": accept},
            server_hostname=client.config.tls_server_name,
        ) as resp:
            body = await resp.read()
            assert resp.status == 200, body[:200]
            doc = orjson.loads(body)
            count = len(doc.get("items") or doc.get("rows") or [])
            assert count == list_pods, count

    out["list_json"] = await _run(5, 1, lambda i: list_as("application/json"))
    out["list_table"] = await _run(5, 1, lambda i: list_as(TABLE))
    out["watch"] = await watch_phase(client, ns, n)
    return out


async def create_namespace(client: rest.Client, ns: str) -> None:
    """Create ``ns``; where a service-account controller runs (the reference), wait for its
    ``default`` ServiceAccount, without which the ServiceAccount admission refuses Pods."""
    await client.request("POST", "/api/v1/namespaces", body={"metadata": {"name": ns}})
    sa = await client.request("GET", "/api/v1/namespaces/default/serviceaccounts")
    if not sa.get("items"):
        return  # no service-account controller: nothing to wait for
    for _ in range(300):
        try:
            await client.request("GET", f"/api/v1/namespaces/{ns}/serviceaccounts/default")
            return
        except errors.ApiError:
            await asyncio.sleep(0.1)


async def watch_phase(client: rest.Client, ns: str, n: int) -> Result:
    base = f"/api/v1/namespaces/{ns}/configmaps"
    listing = await client.request("GET", base)
    rv = listing["metadata"]["resourceVersion"]
    written: dict[str, float] = {}
    latencies: list[float] = []
    ref = rest.ResourceRef("", "v1", "configmaps")
    done = asyncio.Event()

    async def watcher() -> None:
        async with contextlib.aclosing(client.watch(ref, ns, resource_version=rv)) as events:
            async for ev in events:
                if ev.type != "ADDED":
                    continue
                name = ev.object["metadata"]["name"]
                now = time.perf_counter()
                latencies.append(max(0.0, now - written.get(name, now)))
                if len(latencies) >= n:
                    done.set()
                    return

    task = asyncio.create_task(watcher())
    await asyncio.sleep(0.5)
    start = time.perf_counter()

    async def write(i: int) -> None:
        await client.request("POST", base, body={"metadata": {"name": f"w{i}"}})
        written[f"w{i}"] = time.perf_counter()

    await _run(n, 16, write)
    await asyncio.wait_for(done.wait(), 60)
    elapsed = time.perf_counter() - start
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    return _summary(latencies, elapsed)


async def storage_phases(path: Path, n: int) -> dict[str, Result]:
    store = await SqliteStorage.open(path)
    out: dict[str, Result] = {}
    try:
        for conc in CONCURRENCY:
            key = f"/registry/pods/bench/s{conc}-"
            value = orjson.dumps(pod("x"))
            out[f"create_c{conc}"] = await _run(
                n, conc, lambda i, k=key, v=value: store.create(f"{k}{i}", v)
            )
            out[f"get_c{conc}"] = await _run(n, conc, lambda i, k=key: store.get(f"{k}{i}"))

            async def bump(kv: Any) -> bytes:
                return bytes(kv.value) + b" "

            out[f"update_c{conc}"] = await _run(
                n, conc, lambda i, k=key: store.guaranteed_update(f"{k}{i}", bump)
            )
            out[f"delete_c{conc}"] = await _run(n, conc, lambda i, k=key: store.delete(f"{k}{i}"))
    finally:
        await store.close()
    return out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.asynccontextmanager
async def pyk8s_server(tmp: Path) -> AsyncIterator[Path]:
    port = _free_port()
    log = (tmp / "server.log").open("wb")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "pyk8s", "apiserver", "--data-dir", str(tmp),
        "--https-port", str(port), "--bind-address", "127.0.0.1",
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    kubeconfig = tmp / "kubeconfig.yaml"
    try:
        for _ in range(300):
            if kubeconfig.exists():
                try:
                    async with await rest.Client.from_kubeconfig(kubeconfig) as c:
                        await c.request("GET", "/version")
                    break
                except Exception:
                    pass
            await asyncio.sleep(0.1)
        else:
            raise RuntimeError("pyk8s apiserver did not start; see " + str(tmp / "server.log"))
        yield kubeconfig
    finally:
        proc.terminate()
        await proc.wait()
        log.close()


async def measure(kubeconfig: Path | str, n: int, list_pods: int) -> dict[str, Result]:
    async with await rest.Client.from_kubeconfig(kubeconfig) as client:
        return await api_phases(client, f"bench-{int(time.time())}", n, list_pods)


def report(
    ours: dict[str, Result],
    ref: dict[str, Result] | None,
    store: dict[str, Result],
    n: int,
    list_pods: int,
    load: float,
) -> None:
    flat: dict[str, Any] = {
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cpus, "
        f"Python {platform.python_version()} (uvloop)",
        "load_average": round(load, 1),
        "objects": n,
        "list_pods": list_pods,
    }
    for label, r in ours.items():
        flat[f"pyk8s_{label}_ops_per_s"] = round(r.ops_per_s, 1)
        flat[f"pyk8s_{label}_p99_ms"] = round(r.p99_ms, 2)
        if ref is not None and label in ref and ref[label].ops_per_s:
            flat[f"pyk8s_ref_{label}_ratio"] = round(r.ops_per_s / ref[label].ops_per_s, 3)
        if label in store and store[label].ops_per_s:
            flat[f"pyk8s_storage_{label}_ratio"] = round(r.ops_per_s / store[label].ops_per_s, 3)
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "apiserver.json").write_text(json.dumps(flat, indent=2) + "\n")
    lines = [
        "## apiserver: the API server over HTTPS (issue 4)",
        "",
        f"{flat['machine']}; pyk8s apiserver on SQLite; {n} Pods per phase and concurrency, "
        f"a list of {list_pods} Pods x5; `bench/apiserver.py`. Load average at start: "
        f"{load:.1f} (shared machine). "
        + (
            "Reference: kube-apiserver v1.20.2 + etcd 3.4.23 on loopback, same run "
            "(`bench/refcluster.py`)."
            if ref is not None
            else "No reference run (not built: `make reference`; or set REF_KUBECONFIG)."
        )
        + " Runs swing: in three runs within 20 minutes at load 2-5 the 16-client writes ranged"
        " 0.65-1.8x (create) and 0.9-1.9x (watch); Python serves on one core, the reference"
        " on both, so the 16-client write phases are the ones to watch.",
        "",
        "| phase | unit | pyk8s | p50 / p99 ms | reference | ref p50 / p99 ms | pyk8s/ref "
        "| storage alone | pyk8s/storage |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for label, r in ours.items():
        rr = ref.get(label) if ref else None
        s = store.get(label)
        unit = {"list_json": "lists/s", "list_table": "lists/s", "watch": "events/s"}.get(
            label, "ops/s"
        )
        lines.append(
            f"| {label} | {unit} | {r.ops_per_s:,.0f} | {r.p50_ms:.1f} / {r.p99_ms:.1f} "
            + (
                f"| {rr.ops_per_s:,.0f} | {rr.p50_ms:.1f} / {rr.p99_ms:.1f} "
                f"| {r.ops_per_s / rr.ops_per_s:.2f}x "
                if rr and rr.ops_per_s
                else "| | | "
            )
            + (
                f"| {s.ops_per_s:,.0f} | {r.ops_per_s / s.ops_per_s:.2f}x |"
                if s and s.ops_per_s
                else "| | |"
            )
        )
    lines.append("")
    section = "\n".join(lines)
    print(section)
    md = HERE / "RESULTS.md"
    text = md.read_text() if md.exists() else "# Benchmark results\n\n"
    start = text.find("## apiserver:")
    if start >= 0:
        end = text.find("\n## ", start + 1)
        text = text[:start] + section + (text[end:] if end >= 0 else "")
    else:
        text = text.rstrip("\n") + "\n\n" + section
    md.write_text(text)


async def main(args: argparse.Namespace) -> None:
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="pyk8s-bench-") as d:
        tmp = Path(d)
        print("storage alone ...", flush=True)
        store = await storage_phases(tmp / "storage.db", args.objects)
        print("pyk8s ...", flush=True)
        (tmp / "pyk8s").mkdir()
        async with pyk8s_server(tmp / "pyk8s") as kubeconfig:
            ours = await measure(kubeconfig, args.objects, args.pods)
        ref = None
        with refcluster.started() as ref_kubeconfig:
            if ref_kubeconfig is not None:
                print("reference ...", flush=True)
                ref = await measure(ref_kubeconfig, args.objects, args.pods)
    report(ours, ref, store, args.objects, args.pods, load)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=300, help="Pods per phase")
    parser.add_argument("--pods", type=int, default=3000, help="Pods in the listed namespace")
    uvloop.run(main(parser.parse_args()))
