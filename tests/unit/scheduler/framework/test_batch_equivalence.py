"""The batch paths (``filter_nodes``/``score_nodes``) give exactly the per-node results."""

from __future__ import annotations

import random

import pytest

from pyk8s.scheduler import config
from pyk8s.scheduler.cache import Snapshot
from pyk8s.scheduler.fake import FakeSeams
from pyk8s.scheduler.framework.interface import CycleState
from pyk8s.scheduler.framework.types import NodeInfo
from pyk8s.scheduler.plugins.registry import IN_TREE
from tests.unit.scheduler.builders import node, pod, taint


def _affinity(rng: random.Random) -> dict:
    kind = rng.choice(["podAffinity", "podAntiAffinity"])
    term = {
        "labelSelector": {"matchLabels": {"app": rng.choice(["web", "db"])}},
        "topologyKey": rng.choice(["zone", "kubernetes.io/hostname"]),
    }
    if rng.random() < 0.5:
        return {kind: {"requiredDuringSchedulingIgnoredDuringExecution": [term]}}
    return {
        kind: {
            "preferredDuringSchedulingIgnoredDuringExecution": [
                {"weight": rng.randint(1, 100), "podAffinityTerm": term}
            ]
        }
    }


def random_cluster(rng: random.Random) -> tuple[list[NodeInfo], dict]:
    infos = []
    for i in range(rng.randint(1, 40)):
        taints = []
        if rng.random() < 0.2:
            taints.append(
                taint(
                    "dedicated",
                    rng.choice(["a", "b"]),
                    rng.choice(["NoSchedule", "PreferNoSchedule", "NoExecute"]),
                )
            )
        images = [(["nginx:latest"], rng.randint(1, 900) * 2**20)] if rng.random() < 0.3 else None
        n = node(
            f"n{i}",
            labels={"zone": f"z{rng.randint(0, 2)}"} if rng.random() < 0.9 else None,
            cpu=str(rng.choice([1, 2, 4, 8])),
            memory=f"{rng.choice([1, 2, 8])}Gi",
            pods=str(rng.choice([2, 5, 110])),
            taints=taints,
            unschedulable=rng.random() < 0.1,
            images=images,
            extra={"example.com/gpu": "2"} if rng.random() < 0.2 else None,
        )
        existing = [
            pod(
                f"e{i}-{j}",
                cpu=rng.choice([None, "100m", "1"]),
                memory=rng.choice([None, "100Mi", "1Gi"]),
                node=f"n{i}",
                labels={"app": rng.choice(["web", "db"])},
                affinity=_affinity(rng) if rng.random() < 0.1 else None,
            )
            for j in range(rng.randint(0, 4))
        ]
        infos.append(NodeInfo(n, existing))
    tolerations = [{"key": "dedicated", "operator": "Exists"}] if rng.random() < 0.3 else None
    containers = None
    if rng.random() < 0.2:
        containers = [
            {"name": "c", "image": "nginx", "resources": {"requests": {"example.com/gpu": "1"}}}
        ]
    spread = None
    if rng.random() < 0.3:
        spread = [
            {
                "maxSkew": rng.randint(1, 2),
                "topologyKey": rng.choice(["zone", "kubernetes.io/hostname"]),
                "whenUnsatisfiable": rng.choice(["DoNotSchedule", "ScheduleAnyway"]),
                "labelSelector": {"matchLabels": {"app": "web"}},
            }
        ]
    incoming = pod(
        "incoming",
        labels={"app": rng.choice(["web", "db"])},
        affinity=_affinity(rng) if rng.random() < 0.4 else None,
        spread=spread,
        cpu=rng.choice([None, "100m", "500m", "900m", "1", "2", "16"]),
        memory=rng.choice([None, "200Mi", "4Gi"]),
        tolerations=tolerations,
        node=rng.choice(["", "", "", "n0"]),
        containers=containers,
    )
    return infos, incoming


@pytest.mark.parametrize("seed", [pytest.param(s, id=f"seed-{s}") for s in range(60)])
def test_batch_matches_per_node(seed: int) -> None:
    rng = random.Random(seed)
    infos, incoming = random_cluster(rng)
    cfg = config.KubeSchedulerConfiguration()
    if seed % 2:
        cfg.profiles[0].plugin_args["NodeResourcesFit"] = {
            "scoringStrategy": {"type": "MostAllocated"}
        }
    [f] = config.build_frameworks(cfg, IN_TREE, FakeSeams().seams()).values()
    f.set_snapshot(Snapshot(infos))
    state = CycleState()
    _, s, _ = f.run_pre_filter_plugins(state, incoming, infos)
    assert s is None
    f.use_batch = False
    one_by_one = [f.run_filter_plugins_with_nominated_pods(state, incoming, n) for n in infos]
    f.use_batch = True
    batched = f.run_filter_plugins_batch(state, incoming, infos)
    assert batched == one_by_one
    assert [x.plugin if x else None for x in batched] == [
        x.plugin if x else None for x in one_by_one
    ]
    f.run_pre_score_plugins(state, incoming, infos)
    f.use_batch = False
    slow, _ = f.run_score_plugins(state, incoming, infos)
    f.use_batch = True
    fast, _ = f.run_score_plugins(state, incoming, infos)
    assert [(x.name, x.total_score) for x in fast] == [(x.name, x.total_score) for x in slow]
