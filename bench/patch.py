"""The four patch types and a plain update on a 200-line Deployment (issue 5), against
pyk8s and (when running) a real kube-apiserver, beside the storage layer alone.

Phases, each with 1 and 8 concurrent clients over 16 Deployments of about 200 lines of
YAML (4 containers with env, ports, probes, resources, volume mounts): ``update`` (GET
then PUT of the whole object: the baseline), ``merge`` (JSON merge patch of an
annotation and the replica count), ``strategic`` (strategic merge patch of one
container's image by its merge key, and an annotation), ``json`` (RFC 6902 replace and
add), ``apply`` (server-side apply of the whole manifest with one changed annotation,
``force=true``). The storage layer alone (SQLite through ``storage.Interface``) runs a
``guaranteed_update`` of a value of the same size, so the API server's own cost shows.

pyk8s runs as ``pyk8s apiserver`` (SQLite) in a subprocess on free ports. The reference
is kube-apiserver v1.20.2 + etcd 3.4 (``bench/refcluster.py``: the cluster
``REF_KUBECONFIG`` names, else one started from the binaries ``make reference`` caches,
without a controller-manager, as pyk8s runs none here); when neither is there the pyk8s
columns are printed alone. Writes
``bench/results/patch.json`` and the ``patch`` section of ``bench/RESULTS.md``. Run:
``.venv/bin/python bench/patch.py [--ops N]``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

import orjson  # noqa: E402
import refcluster  # noqa: E402
import uvloop  # noqa: E402
import yaml  # noqa: E402
from apiserver import Result, _run, pyk8s_server  # noqa: E402

from pyk8s.client import rest  # noqa: E402
from pyk8s.storage.sqlite.log import SqliteStorage  # noqa: E402

CONCURRENCY = (1, 8)
OBJECTS = 16
PHASES = ("update", "merge", "strategic", "json", "apply")


def container(n: int) -> dict[str, Any]:
    return {
        "name": f"c{n}",
        "image": f"registry.example/app{n}:1.0",
        "imagePullPolicy": "IfNotPresent",
        "args": ["--port=8080", f"--instance={n}", "--log-level=info"],
        "env": [{"name": f"VAR_{k}", "value": f"value-{n}-{k}"} for k in range(6)],
        "ports": [
            {"name": f"http{n}", "containerPort": 8080 + n, "protocol": "TCP"},
            {"name": f"metrics{n}", "containerPort": 9090 + n, "protocol": "TCP"},
        ],
        "resources": {
            "requests": {"cpu": "100m", "memory": "64Mi"},
            "limits": {"cpu": "500m", "memory": "256Mi"},
        },
        "readinessProbe": {
            "httpGet": {"path": "/ready", "port": 8080 + n},
            "periodSeconds": 5,
        },
        "livenessProbe": {
            "httpGet": {"path": "/healthz", "port": 8080 + n},
            "initialDelaySeconds": 10,
        },
        "volumeMounts": [{"name": "data", "mountPath": f"/data/{n}"}],
    }


def deployment(name: str, stamp: str = "0") -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": name,
            "labels": {"app": name, "tier": "bench"},
            "annotations": {"bench/stamp": stamp},
        },
        "spec": {
            "replicas": 0,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name, "tier": "bench"}},
                "spec": {
                    "containers": [container(n) for n in range(4)],
                    "volumes": [{"name": "data", "emptyDir": {}}],
                },
            },
        },
    }


async def api_phases(client: rest.Client, ns: str, ops: int) -> dict[str, Result]:
    base = f"/apis/apps/v1/namespaces/{ns}/deployments"
    await client.request("POST", "/api/v1/namespaces", body={"metadata": {"name": ns}})
    for i in range(OBJECTS):
        await client.request("POST", base, body=deployment(f"d{i}"))
    out: dict[str, Result] = {}

    async def update(i: int) -> None:
        obj = await client.request("GET", f"{base}/d{i % OBJECTS}")
        obj["metadata"]["annotations"]["bench/stamp"] = f"u{i}"
        await client.request("PUT", f"{base}/d{i % OBJECTS}", body=obj)

    async def merge(i: int) -> None:
        patch = {"metadata": {"annotations": {"bench/stamp": f"m{i}"}}, "spec": {"replicas": 0}}
        await client.request(
            "PATCH", f"{base}/d{i % OBJECTS}", body=patch,
            content_type="application/merge-patch+json",
        )  # fmt: skip

    async def strategic(i: int) -> None:
        patch = {
            "metadata": {"annotations": {"bench/stamp": f"s{i}"}},
            "spec": {"template": {"spec": {"containers": [
                {"name": "c2", "image": f"registry.example/app2:{i % 3}"}]}}},
        }  # fmt: skip
        await client.request(
            "PATCH", f"{base}/d{i % OBJECTS}", body=patch,
            content_type="application/strategic-merge-patch+json",
        )  # fmt: skip

    async def json_patch(i: int) -> None:
        patch = [
            {"op": "replace", "path": "/spec/replicas", "value": 0},
            {"op": "add", "path": "/metadata/annotations/bench~1stamp", "value": f"j{i}"},
        ]
        await client.request(
            "PATCH", f"{base}/d{i % OBJECTS}", body=patch,
            content_type="application/json-patch+json",
        )  # fmt: skip

    async def apply(i: int) -> None:
        body = yaml.safe_dump(deployment(f"d{i % OBJECTS}", f"a{i}")).encode()
        await client.request(
            "PATCH", f"{base}/d{i % OBJECTS}", body=body,
            params={"fieldManager": "bench", "force": "true"},
            content_type="application/apply-patch+yaml",
        )  # fmt: skip

    ops_by_name: dict[str, Callable[[int], Awaitable[None]]] = {
        "update": update, "merge": merge, "strategic": strategic, "json": json_patch,
        "apply": apply,
    }  # fmt: skip
    for conc in CONCURRENCY:
        for name in PHASES:
            out[f"{name}_c{conc}"] = await _run(ops, conc, ops_by_name[name])
    return out


async def storage_phase(path: Path, ops: int) -> dict[str, Result]:
    store = await SqliteStorage.open(path)
    out: dict[str, Result] = {}
    value = orjson.dumps(deployment("d"))
    try:
        for i in range(OBJECTS):
            await store.create(f"/registry/deployments/bench/d{i}", value)

        async def bump(kv: Any) -> bytes:
            return bytes(kv.value)[:-1] + b" }"

        def one(i: int) -> Awaitable[Any]:
            return store.guaranteed_update(f"/registry/deployments/bench/d{i % OBJECTS}", bump)

        for conc in CONCURRENCY:
            out[f"update_c{conc}"] = await _run(ops, conc, one)
    finally:
        await store.close()
    return out


@contextlib.contextmanager
def reference(tmp: Path) -> Iterator[Path | None]:
    """The reference's kubeconfig: ``REF_KUBECONFIG``'s, or a cluster started here (no
    controller-manager: nothing reconciles the Deployments, as on the pyk8s side)."""
    given = os.environ.get("REF_KUBECONFIG")
    if given:
        yield Path(given)
    elif refcluster.binaries() is None:
        yield None
    else:
        with refcluster.cluster(tmp / "ref", REF_KCM="0") as kubeconfig:
            yield kubeconfig


async def measure(kubeconfig: Path | str, ops: int) -> dict[str, Result]:
    async with await rest.Client.from_kubeconfig(kubeconfig) as client:
        return await api_phases(client, f"patch-{int(time.time())}", ops)


def report(
    ours: dict[str, Result], ref: dict[str, Result] | None, store: dict[str, Result], ops: int
) -> None:
    load = os.getloadavg()[0]
    lines_of_yaml = len(yaml.safe_dump(deployment("d")).splitlines())
    flat: dict[str, Any] = {
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cpus, "
        f"Python {platform.python_version()} (uvloop)",
        "load_average": round(load, 1),
        "ops": ops,
        "deployment_yaml_lines": lines_of_yaml,
    }
    for label, r in ours.items():
        flat[f"pyk8s_{label}_ops_per_s"] = round(r.ops_per_s, 1)
        flat[f"pyk8s_{label}_p99_ms"] = round(r.p99_ms, 2)
        conc = label.rsplit("_", 1)[1]
        s = store.get(f"update_{conc}")
        if s and s.ops_per_s:
            flat[f"pyk8s_storage_{label}_ratio"] = round(r.ops_per_s / s.ops_per_s, 3)
        if ref is not None and label in ref and ref[label].ops_per_s:
            flat[f"pyk8s_ref_{label}_ratio"] = round(r.ops_per_s / ref[label].ops_per_s, 3)
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "patch.json").write_text(json.dumps(flat, indent=2) + "\n")
    lines = [
        "## patch: the four patch types on a Deployment (issue 5)",
        "",
        f"{flat['machine']}; pyk8s apiserver on SQLite; a {lines_of_yaml}-line Deployment "
        f"(16 of them, taken in turn), {ops} operations per phase and concurrency; "
        f"`bench/patch.py`. `update` is GET + PUT; the storage column is SQLite's "
        f"`guaranteed_update` of the same value alone. Load average at start: {load:.1f} "
        "(shared machine). "
        + (
            "Reference: kube-apiserver v1.20.2 + etcd 3.4 (`bench/refcluster.py`), run after "
            "pyk8s on the same machine."
            if ref is not None
            else "No reference run (the v1.20.2 reference is not built: `make reference`)."
        ),
        "",
        "| phase | pyk8s ops/s | p50 / p99 ms | reference ops/s | ref p50 / p99 ms | pyk8s/ref "
        "| storage alone ops/s | pyk8s/storage |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for label, r in ours.items():
        rr = ref.get(label) if ref else None
        s = store.get(f"update_{label.rsplit('_', 1)[1]}")
        lines.append(
            f"| {label} | {r.ops_per_s:,.0f} | {r.p50_ms:.1f} / {r.p99_ms:.1f} "
            + (
                f"| {rr.ops_per_s:,.0f} | {rr.p50_ms:.1f} / {rr.p99_ms:.1f} "
                f"| {r.ops_per_s / rr.ops_per_s:.2f}x "
                if rr and rr.ops_per_s
                else "| | | "
            )
            + (f"| {s.ops_per_s:,.0f} | {r.ops_per_s / s.ops_per_s:.2f}x |" if s else "| | |")
        )
    lines.append("")
    section = "\n".join(lines)
    print(section)
    md = HERE / "RESULTS.md"
    text = md.read_text() if md.exists() else "# Benchmark results\n\n"
    start = text.find("## patch:")
    if start >= 0:
        end = text.find("\n## ", start + 1)
        text = text[:start] + section + (text[end:] if end >= 0 else "")
    else:
        text = text.rstrip("\n") + "\n\n" + section
    md.write_text(text)


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="pyk8s-bench-patch-") as d:
        tmp = Path(d)
        print("storage alone ...", flush=True)
        store = await storage_phase(tmp / "storage.db", args.ops)
        print("pyk8s ...", flush=True)
        (tmp / "pyk8s").mkdir()
        async with pyk8s_server(tmp / "pyk8s") as kubeconfig:
            ours = await measure(kubeconfig, args.ops)
        ref = None
        with reference(tmp) as ref_kubeconfig:
            if ref_kubeconfig is not None:
                print("reference ...", flush=True)
                ref = await measure(ref_kubeconfig, args.ops)
    report(ours, ref, store, args.ops)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ops", type=int, default=200, help="operations per phase")
    uvloop.run(main(parser.parse_args()))
