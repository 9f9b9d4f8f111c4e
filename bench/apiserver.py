"""The API server workload of issue 4, over HTTPS, against pyk8s and (when running) a
real kube-apiserver, beside the storage layer alone.

Phases, each with 1 and 16 concurrent clients: ``create``, ``get``, ``update`` (PUT
with the current resourceVersion) and ``delete`` of Pods; ``list`` of 3,000 Pods in
one namespace as JSON and as a Table; ``watch``: one watcher while 16 writers create
ConfigMaps, events/s and write-returned -> event-received latency; ``paced``: single-object
creates, updates and deletes at 20/s in an open loop for 30 s, p50 / p99 latency (issue 4's
target: p99 <= 50 ms). An ``update`` is a GET then a PUT (what a client does). The storage
layer alone (SQLite through ``storage.Interface``, in process) runs the same create / get /
update / delete, so the API server's own overhead shows.

pyk8s runs as ``pyk8s apiserver`` (SQLite, its default) in a subprocess on free
ports. The reference is kube-apiserver v1.20.2 with etcd 3.4 (``bench/refcluster.py``):
the cluster ``REF_KUBECONFIG`` names, else one started here from the binaries
``hack/build-reference.sh`` cached (``make reference``) and stopped after; without either
the pyk8s columns are printed alone. Both are up at once and each phase runs against one
then the other, so a change of the shared machine's load hits both alike; ``--runs`` repeats
everything (medians and the spread of the ratios are reported). Writes
``bench/results/apiserver.json`` and the ``apiserver`` section of ``bench/RESULTS.md``.
Run: ``.venv/bin/python bench/apiserver.py [--runs N] [--objects N] [--pods N]``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import platform
import socket
import statistics
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
RATE = 20.0
"""Mutations per second of the paced phase."""
PACED_P99_TARGET_MS = 50.0


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


async def api_phases(
    client: rest.Client, ns: str, n: int, list_pods: int, paced_seconds: float
) -> AsyncIterator[tuple[str, Result]]:
    """The phases in order, each yielded as soon as it is measured (so that two servers'
    phases can interleave: a change of the machine's load then hits both alike)."""
    base = f"/api/v1/namespaces/{ns}/pods"
    await create_namespace(client, ns)
    for conc in CONCURRENCY:
        prefix = f"p{conc}-"
        yield (
            f"create_c{conc}",
            await _run(
                n, conc, lambda i, p=prefix: client.request("POST", base, body=pod(f"{p}{i}"))
            ),
        )
        yield (
            f"get_c{conc}",
            await _run(n, conc, lambda i, p=prefix: client.request("GET", f"{base}/{p}{i}")),
        )

        async def update(i: int, p: str = prefix) -> None:
            obj = await client.request("GET", f"{base}/{p}{i}")
            obj["metadata"].setdefault("labels", {})["touched"] = "yes"
            await client.request("PUT", f"{base}/{p}{i}", body=obj)

        yield f"update_c{conc}", await _run(n, conc, update)
        yield (
            f"delete_c{conc}",
            await _run(
                n,
                conc,
                lambda i, p=prefix: client.request(
                    "DELETE", f"{base}/{p}{i}", params={"gracePeriodSeconds": "0"}
                ),
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
            # The check decodes the list with the collector paused: its passes over millions
            # of fresh objects would cost this client more than the server's answer.
            gc.disable()
            try:
                doc = orjson.loads(body)
                count = len(doc.get("items") or doc.get("rows") or [])
                del doc
            finally:
                gc.enable()
            assert count == list_pods, count

    yield "list_json", await _run(5, 1, lambda i: list_as("application/json"))
    yield "list_table", await _run(5, 1, lambda i: list_as(TABLE))
    yield "watch", await watch_phase(client, ns, n)
    if paced_seconds > 0:
        yield "paced", await paced_phase(client, ns + "-paced", RATE, paced_seconds)


async def paced_phase(client: rest.Client, ns: str, rate: float, seconds: float) -> Result:
    """Single-object mutations at a fixed ``rate`` (open loop: each starts on its tick whether
    or not the ones before have answered), a create, an update (PUT of the object the create
    returned, one label changed) and a delete in turn, each on an object the step before
    finished with a second earlier. Latency runs from the tick, so a server that falls behind
    shows it; ``ops_per_s`` is the rate achieved."""
    await create_namespace(client, ns)
    base = f"/api/v1/namespaces/{ns}/pods"
    objects = max(1, int(rate * seconds) // 3)
    lag = max(1, round(rate / 3))  # rounds (of up to 3 ticks) between an object's steps: ~1 s
    schedule: list[tuple[str, int]] = []
    for rnd in range(objects + 2 * lag):
        for step, i in (("create", rnd), ("update", rnd - lag), ("delete", rnd - 2 * lag)):
            if 0 <= i < objects:
                schedule.append((step, i))
    created: dict[int, asyncio.Future[Any]] = {}
    updated: dict[int, asyncio.Future[Any]] = {}
    latencies: list[float] = []
    loop = asyncio.get_running_loop()

    async def track(fut: asyncio.Future[Any], call: Awaitable[Any]) -> None:
        try:
            fut.set_result(await call)
        except BaseException as e:
            fut.set_exception(e)
            raise

    async def mutate(step: str, i: int, due: float) -> None:
        if step == "create":
            created[i] = loop.create_future()
            await track(created[i], client.request("POST", base, body=pod(f"m{i}")))
        elif step == "update":
            obj = await created.pop(i)
            obj["metadata"].setdefault("labels", {})["touched"] = "yes"
            updated[i] = loop.create_future()
            await track(updated[i], client.request("PUT", f"{base}/m{i}", body=obj))
        else:
            await updated.pop(i)
            await client.request("DELETE", f"{base}/m{i}", params={"gracePeriodSeconds": "0"})
        latencies.append(time.perf_counter() - due)

    tasks: list[asyncio.Task[None]] = []
    start = time.perf_counter()
    for j, (step, i) in enumerate(schedule):
        due = start + j / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(mutate(step, i, due)))
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - start
    return _summary(latencies, elapsed)


async def create_namespace(client: rest.Client, ns: str) -> None:
    """Create ``ns`` with its ``default`` ServiceAccount, which the ServiceAccount admission
    of both servers looks up for every Pod: the reference's service-account controller makes
    it (wait for it); ``pyk8s apiserver`` runs no controllers, so it is created here (without
    it our admission reads it again for a second and a half before admitting each Pod)."""
    await client.request("POST", "/api/v1/namespaces", body={"metadata": {"name": ns}})
    sa = await client.request("GET", "/api/v1/namespaces/default/serviceaccounts")
    if not sa.get("items"):  # no service-account controller: make the account
        await client.request(
            "POST",
            f"/api/v1/namespaces/{ns}/serviceaccounts",
            body={"metadata": {"name": "default"}},
        )
        return
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


async def measure(
    targets: dict[str, Path | str], n: int, list_pods: int, paced_seconds: float, run: int
) -> dict[str, dict[str, Result]]:
    """Every phase against every target in turn (pyk8s' create, the reference's create,
    pyk8s' get, ...), so that both see the machine's load of the same minute."""
    stamp = f"bench-{int(time.time())}-{run}"
    async with contextlib.AsyncExitStack() as stack:
        gens: dict[str, AsyncIterator[tuple[str, Result]]] = {}
        for name, kubeconfig in targets.items():
            client = await stack.enter_async_context(await rest.Client.from_kubeconfig(kubeconfig))
            gens[name] = api_phases(client, stamp, n, list_pods, paced_seconds)
        out: dict[str, dict[str, Result]] = {name: {} for name in targets}
        while gens:
            for name, gen in list(gens.items()):
                try:
                    label, result = await anext(gen)
                except StopAsyncIteration:
                    del gens[name]
                    continue
                out[name][label] = result
                print(
                    f"  {name:5} {label:10} {result.ops_per_s:9,.1f}/s  "
                    f"p50 {result.p50_ms:6.1f} ms  p99 {result.p99_ms:6.1f} ms",
                    flush=True,
                )
        return out


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else 0.0


def combine(runs: list[dict[str, Result]]) -> dict[str, Result]:
    """Per phase, the median over runs of each figure."""
    out: dict[str, Result] = {}
    for label in runs[0]:
        rs = [r[label] for r in runs if label in r]
        out[label] = Result(
            _median([r.ops_per_s for r in rs]),
            _median([r.p50_ms for r in rs]),
            _median([r.p99_ms for r in rs]),
        )
    return out


UNITS = {"list_json": "lists/s", "list_table": "lists/s", "watch": "events/s",
         "paced": "mutations/s"}  # fmt: skip


def report(
    ours_runs: list[dict[str, Result]],
    ref_runs: list[dict[str, Result]] | None,
    store: dict[str, Result],
    n: int,
    list_pods: int,
    loads: list[float],
    paced_seconds: float,
) -> None:
    ours = combine(ours_runs)
    ref = combine(ref_runs) if ref_runs else None
    ratios: dict[str, list[float]] = {}
    if ref_runs:
        for o, r in zip(ours_runs, ref_runs, strict=True):
            for label, res in o.items():
                if label != "paced" and label in r and r[label].ops_per_s:
                    ratios.setdefault(label, []).append(res.ops_per_s / r[label].ops_per_s)
    flat: dict[str, Any] = {
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cpus, "
        f"Python {platform.python_version()} (uvloop)",
        "load_average": round(max(loads), 1),
        "load_averages": [round(x, 1) for x in loads],
        "runs": len(ours_runs),
        "objects": n,
        "list_pods": list_pods,
        "paced_rate": RATE,
        "paced_seconds": paced_seconds,
    }
    for label, r in ours.items():
        flat[f"pyk8s_{label}_ops_per_s"] = round(r.ops_per_s, 1)
        flat[f"pyk8s_{label}_p50_ms"] = round(r.p50_ms, 2)
        flat[f"pyk8s_{label}_p99_ms"] = round(r.p99_ms, 2)
        if ref is not None and label in ref:
            flat[f"ref_{label}_ops_per_s"] = round(ref[label].ops_per_s, 1)
            flat[f"ref_{label}_p99_ms"] = round(ref[label].p99_ms, 2)
        if label in ratios:
            flat[f"pyk8s_ref_{label}_ratio"] = round(_median(ratios[label]), 3)
            flat[f"pyk8s_ref_{label}_ratio_min"] = round(min(ratios[label]), 3)
            flat[f"pyk8s_ref_{label}_ratio_max"] = round(max(ratios[label]), 3)
        if label in store and store[label].ops_per_s:
            flat[f"pyk8s_storage_{label}_ratio"] = round(r.ops_per_s / store[label].ops_per_s, 3)
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "apiserver.json").write_text(json.dumps(flat, indent=2) + "\n")
    runs = len(ours_runs)
    loads_text = ", ".join(f"{x:.1f}" for x in loads)
    lines = [
        "## apiserver: the API server over HTTPS (issue 4)",
        "",
        f"{flat['machine']}; pyk8s apiserver on SQLite; {n} Pods per phase and concurrency, "
        f"a list of {list_pods} Pods x5; `bench/apiserver.py`; {runs} run(s), load average "
        f"at the start of each: {loads_text} (shared machine). "
        + (
            "Reference: kube-apiserver v1.20.2 + etcd 3.4.23 on loopback, both up at once and "
            "every phase run against one then the other, so both see the same minute's load "
            "(`bench/refcluster.py`). Figures are medians over the runs; the ratio column "
            "gives the median and, with several runs, the range of the per-run ratios."
            if ref is not None
            else "No reference run (not built: `make reference`; or set REF_KUBECONFIG)."
        )
        + " Python serves on one core, the reference on both.",
        "",
        "| phase | unit | pyk8s | p50 / p99 ms | reference | ref p50 / p99 ms | pyk8s/ref "
        "| storage alone | pyk8s/storage |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for label, r in ours.items():
        rr = ref.get(label) if ref else None
        s = store.get(label)
        ratio = ""
        if label in ratios:
            rs = ratios[label]
            ratio = f"{_median(rs):.2f}x" + (
                f" ({min(rs):.2f}-{max(rs):.2f})" if len(rs) > 1 else ""
            )
        lines.append(
            f"| {label} | {UNITS.get(label, 'ops/s')} | {r.ops_per_s:,.0f} "
            f"| {r.p50_ms:.1f} / {r.p99_ms:.1f} "
            + (
                f"| {rr.ops_per_s:,.0f} | {rr.p50_ms:.1f} / {rr.p99_ms:.1f} | {ratio} "
                if rr
                else "| | | "
            )
            + (
                f"| {s.ops_per_s:,.0f} | {r.ops_per_s / s.ops_per_s:.2f}x |"
                if s and s.ops_per_s
                else "| | |"
            )
        )
    lines.append("")
    if "paced" in ours:
        p = ours["paced"]
        verdict = "met" if p.p99_ms <= PACED_P99_TARGET_MS else "NOT met"
        lines.append(
            f"`paced`: single-object creates, updates and deletes in turn at {RATE:g}/s, open "
            f"loop, for {paced_seconds:g} s; latency from each mutation's tick. Target p99 <= "
            f"{PACED_P99_TARGET_MS:g} ms: pyk8s {p.p99_ms:.1f} ms, {verdict}"
            + (f" (reference {ref['paced'].p99_ms:.1f} ms)." if ref and "paced" in ref else ".")
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
    loads: list[float] = []
    ours_runs: list[dict[str, Result]] = []
    ref_runs: list[dict[str, Result]] = []
    with tempfile.TemporaryDirectory(prefix="pyk8s-bench-") as d:
        tmp = Path(d)
        print("storage alone ...", flush=True)
        store = await storage_phases(tmp / "storage.db", args.objects)
        (tmp / "pyk8s").mkdir()
        async with pyk8s_server(tmp / "pyk8s") as kubeconfig:
            with refcluster.started() as ref_kubeconfig:
                targets: dict[str, Path | str] = {"pyk8s": kubeconfig}
                if ref_kubeconfig is not None:
                    targets["ref"] = ref_kubeconfig
                for run in range(args.runs):
                    loads.append(os.getloadavg()[0])
                    print(f"run {run + 1}/{args.runs} (load {loads[-1]:.1f}) ...", flush=True)
                    got = await measure(targets, args.objects, args.pods, args.paced_seconds, run)
                    ours_runs.append(got["pyk8s"])
                    if "ref" in got:
                        ref_runs.append(got["ref"])
    report(ours_runs, ref_runs or None, store, args.objects, args.pods, loads, args.paced_seconds)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=300, help="Pods per phase")
    parser.add_argument("--pods", type=int, default=3000, help="Pods in the listed namespace")
    parser.add_argument("--runs", type=int, default=3, help="runs of every phase (medians)")
    parser.add_argument(
        "--paced-seconds", type=float, default=30.0,
        help="length of the paced phase (0: skip it)",
    )  # fmt: skip
    uvloop.run(main(parser.parse_args()))
