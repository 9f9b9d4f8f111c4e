"""The informer's cost over the wire: initial sync and watch throughput, against a raw client.

Runs the real API server in-process (memory storage, HTTPS, admin certificate from
its kubeconfig). Ours: a ``SharedInformerFactory`` informer (paged list, read-only
objects, namespace index, one handler). Reference: the same REST client doing the
bare minimum: one unpaged list (decode only), and a plain watch loop that only
counts events. The ratio is what the informer machinery costs on top of the HTTP
and JSON work every client pays.

Run: ``.venv/bin/python bench/client_informer.py``; writes
``bench/results/client_informer.json`` and its section of ``bench/RESULTS.md``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import platform
import socket
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from pyk8s.apiserver import server  # noqa: E402
from pyk8s.apiserver.settings import APIServerConfig  # noqa: E402
from pyk8s.client import rest  # noqa: E402
from pyk8s.client.informers import factory, shared_informer  # noqa: E402
from pyk8s.storage.memory import MemoryStorage  # noqa: E402

OBJECTS = 2000
UPDATES = 1000
CONFIGMAPS = rest.for_kind("v1", "ConfigMap")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def configmap(i: int) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": f"cm-{i:05d}", "labels": {"app": "bench", "shard": str(i % 10)}},
        "data": {"key": "x" * 200, "other": str(i)},
    }


async def fill(client: rest.Client) -> None:
    sem = asyncio.Semaphore(32)

    async def one(i: int) -> None:
        async with sem:
            await client.create(CONFIGMAPS, configmap(i), "default")

    await asyncio.gather(*(one(i) for i in range(OBJECTS)))


async def informer_sync(client: rest.Client) -> float:
    start = time.perf_counter()
    async with factory.SharedInformerFactory(client) as informers:
        inf = informers.for_resource(CONFIGMAPS)
        inf.add_event_handler(shared_informer.EventHandlerFuncs(add=lambda o: None))
        informers.start()
        await informers.wait_for_cache_sync()
        elapsed = time.perf_counter() - start
        assert len(inf.store) >= OBJECTS
    return elapsed


async def raw_list(client: rest.Client) -> float:
    start = time.perf_counter()
    page = await client.list(CONFIGMAPS, "default")
    elapsed = time.perf_counter() - start
    assert len(page["items"]) >= OBJECTS
    return elapsed


async def updates(client: rest.Client, tag: str) -> None:
    sem = asyncio.Semaphore(32)

    async def one(i: int) -> None:
        async with sem:
            await client.patch(
                CONFIGMAPS, f"cm-{i % OBJECTS:05d}", {"data": {"other": f"{tag}-{i}"}}, "default"
            )

    await asyncio.gather(*(one(i) for i in range(UPDATES)))


async def informer_watch(client: rest.Client) -> float:
    async with factory.SharedInformerFactory(client) as informers:
        inf = informers.for_resource(CONFIGMAPS)
        seen = 0
        done = asyncio.Event()

        def on_update(old: Any, new: Any) -> None:
            nonlocal seen
            seen += 1
            if seen == UPDATES:
                done.set()

        inf.add_event_handler(shared_informer.EventHandlerFuncs(update=on_update))
        informers.start()
        await informers.wait_for_cache_sync()
        start = time.perf_counter()
        await updates(client, "inf")
        await asyncio.wait_for(done.wait(), 120)
        return time.perf_counter() - start


async def raw_watch(client: rest.Client) -> float:
    rv = (await client.list(CONFIGMAPS, "default", limit=1))["metadata"]["resourceVersion"]
    seen = 0
    done = asyncio.Event()

    async def consume() -> None:
        nonlocal seen
        gen = client.watch(CONFIGMAPS, "default", resource_version=rv, allow_bookmarks=False)
        async with contextlib.aclosing(gen) as stream:
            async for ev in stream:
                if ev.type == "MODIFIED":
                    seen += 1
                    if seen == UPDATES:
                        done.set()
                        return

    task = asyncio.create_task(consume())
    await asyncio.sleep(0.2)
    start = time.perf_counter()
    await updates(client, "raw")
    await asyncio.wait_for(done.wait(), 120)
    elapsed = time.perf_counter() - start
    await task
    return elapsed


async def run() -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="pyk8s-bench-") as tmp:
        config = APIServerConfig(
            data_dir=Path(tmp), https_port=free_port(), bind_address="127.0.0.1"
        )
        store = MemoryStorage()
        ready = asyncio.Event()
        task = asyncio.create_task(server.run(config, store, ready))
        await asyncio.wait_for(ready.wait(), 60)
        try:
            client = await rest.Client.from_kubeconfig(config.kubeconfig_path)
            async with client:
                await fill(client)
                sync_ours = min([await informer_sync(client) for _ in range(3)])
                sync_ref = min([await raw_list(client) for _ in range(3)])
                watch_ours = await informer_watch(client)
                watch_ref = await raw_watch(client)
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await store.close()
    return {
        "objects": OBJECTS,
        "updates": UPDATES,
        "informer_sync_s": sync_ours,
        "raw_list_s": sync_ref,
        "informer_sync_ratio": sync_ours / sync_ref,
        "informer_sync_objects_per_s": OBJECTS / sync_ours,
        "informer_watch_s": watch_ours,
        "raw_watch_s": watch_ref,
        "informer_watch_ratio": watch_ours / watch_ref,
        "informer_watch_events_per_s": UPDATES / watch_ours,
        "machine": f"{platform.machine()} {os.cpu_count()} cpus, {platform.python_version()}",
        "loadavg": os.getloadavg()[0],
    }


def main() -> None:
    r = asyncio.run(run())
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "client_informer.json").write_text(json.dumps(r, indent=2) + "\n")
    table = [
        "## client_informer: informer sync and watch against the in-process API server",
        "",
        f"{r['objects']} ConfigMaps (~300 B of data each) over HTTPS with memory storage;"
        f" {r['updates']} patches for the watch; {r['machine']}; load average"
        f" {r['loadavg']:.1f}. Reference: the same REST client with no informer (one"
        " unpaged list, decode only; a bare watch loop). Watch time runs from the first"
        " patch sent to the last event seen, so it includes the server's writes.",
        "",
        "| workload | informer s | reference s | informer / reference | informer rate |",
        "| --- | ---: | ---: | ---: | ---: |",
        f"| initial sync (paged list, freeze, index, handler) | {r['informer_sync_s']:.3f} |"
        f" {r['raw_list_s']:.3f} | {r['informer_sync_ratio']:.2f}x |"
        f" {r['informer_sync_objects_per_s']:,.0f} objects/s |",
        f"| watch {r['updates']} updates | {r['informer_watch_s']:.3f} |"
        f" {r['raw_watch_s']:.3f} | {r['informer_watch_ratio']:.2f}x |"
        f" {r['informer_watch_events_per_s']:,.0f} events/s |",
        "",
    ]
    section = "\n".join(table)
    print(section)
    md = HERE / "RESULTS.md"
    text = md.read_text() if md.exists() else "# Benchmark results\n\n"
    start = text.find("## client_informer:")
    if start >= 0:
        end = text.find("\n## ", start + 1)
        text = text[:start] + section + (text[end + 1 :] if end >= 0 else "")
    else:
        text = text.rstrip("\n") + "\n\n" + section
    md.write_text(text)


if __name__ == "__main__":
    main()
