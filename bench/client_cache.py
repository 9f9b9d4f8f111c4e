"""What read-only cache objects cost: freezing a decoded Pod vs. the alternatives.

The informer cache stores every object through ``cache.frozen.freeze``. The
references are what it replaces or competes with: decoding the JSON at all
(``orjson.loads``, paid anyway), ``copy.deepcopy`` (what a careful caller pays
per read without read-only objects, and what client-go's ``DeepCopy`` does) and
a shallow ``MappingProxyType`` (cheap, but leaves nested values mutable).

Run: ``.venv/bin/python bench/client_cache.py``; writes
``bench/results/client_cache.json`` and its section of ``bench/RESULTS.md``.
"""

from __future__ import annotations

import copy
import json
import os
import platform
import timeit
import types
from pathlib import Path
from typing import Any

import orjson

from pyk8s.client.cache import frozen

HERE = Path(__file__).resolve().parent


def sample_pod() -> dict[str, Any]:
    conditions = [
        {"type": t, "status": "True", "lastTransitionTime": "2026-01-01T00:00:00Z"}
        for t in ("Initialized", "Ready", "ContainersReady", "PodScheduled")
    ]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "web-7d4b9c8f5-abcde",
            "namespace": "default",
            "uid": "0b1c2d3e-aaaa-bbbb-cccc-1234567890ab",
            "resourceVersion": "123456",
            "generateName": "web-7d4b9c8f5-",
            "creationTimestamp": "2026-01-01T00:00:00Z",
            "labels": {"app": "web", "pod-template-hash": "7d4b9c8f5"},
            "ownerReferences": [
                {
                    "apiVersion": "apps/v1",
                    "kind": "ReplicaSet",
                    "name": "web-7d4b9c8f5",
                    "uid": "1111",
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
        },
        "spec": {
            "containers": [
                {
                    "name": "nginx",
                    "image": "nginx:1.25",
                    "ports": [{"containerPort": 80, "protocol": "TCP"}],
                    "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}},
                    "volumeMounts": [
                        {
                            "name": "kube-api-access",
                            "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount",
                            "readOnly": True,
                        }
                    ],
                    "imagePullPolicy": "IfNotPresent",
                }
            ],
            "restartPolicy": "Always",
            "nodeName": "node-1",
            "tolerations": [
                {
                    "key": f"node.kubernetes.io/{k}",
                    "operator": "Exists",
                    "effect": "NoExecute",
                    "tolerationSeconds": 300,
                }
                for k in ("not-ready", "unreachable")
            ],
        },
        "status": {
            "phase": "Running",
            "conditions": conditions,
            "podIP": "10.42.0.5",
            "containerStatuses": [
                {
                    "name": "nginx",
                    "ready": True,
                    "restartCount": 0,
                    "state": {"running": {"startedAt": "2026-01-01T00:00:01Z"}},
                }
            ],
        },
    }


def per_call_us(fn: Any, number: int) -> float:
    best = min(timeit.repeat(fn, number=number, repeat=5))
    return best / number * 1e6


def main() -> None:
    pod = sample_pod()
    raw = orjson.dumps(pod)
    n = 20000
    results = {
        "pod_json_bytes": len(raw),
        "orjson_loads_us": per_call_us(lambda: orjson.loads(raw), n),
        "freeze_us": per_call_us(lambda: frozen.freeze(pod), n),
        "deepcopy_us": per_call_us(lambda: copy.deepcopy(pod), n),
        "mappingproxy_shallow_us": per_call_us(lambda: types.MappingProxyType(pod), n),
    }
    results["freeze_vs_deepcopy_ratio"] = results["freeze_us"] / results["deepcopy_us"]
    results["freeze_vs_orjson_loads_ratio"] = results["freeze_us"] / results["orjson_loads_us"]
    results["machine"] = f"{platform.machine()} {os.cpu_count()} cpus, {platform.python_version()}"
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "client_cache.json").write_text(json.dumps(results, indent=2) + "\n")

    rows = [
        ("decode (orjson.loads)", results["orjson_loads_us"]),
        ("freeze (ours, read-only deep)", results["freeze_us"]),
        ("copy.deepcopy", results["deepcopy_us"]),
        ("MappingProxyType (shallow only)", results["mappingproxy_shallow_us"]),
    ]
    table = [
        "## client_cache: read-only cached objects",
        "",
        f"One Pod of {len(raw)} bytes of JSON; best of 5 x {n} calls; {results['machine']}.",
        "",
        "| operation | us per object |",
        "| --- | --- |",
        *[f"| {name} | {us:.1f} |" for name, us in rows],
        "",
        f"freeze / deepcopy = {results['freeze_vs_deepcopy_ratio']:.2f}; "
        f"freeze / decode = {results['freeze_vs_orjson_loads_ratio']:.2f}",
        "",
    ]
    section = "\n".join(table)
    print(section)
    md = HERE / "RESULTS.md"
    text = md.read_text() if md.exists() else "# Benchmark results\n\n"
    start = text.find("## client_cache:")
    if start >= 0:
        end = text.find("\n## ", start + 1)
        text = text[:start] + section + (text[end + 1 :] if end >= 0 else "")
    else:
        text = text.rstrip("\n") + "\n\n" + section
    md.write_text(text)


if __name__ == "__main__":
    main()
