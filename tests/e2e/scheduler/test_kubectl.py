"""The scheduler inside a real ``pyk8s server``, driven with the real kubectl: pods
bound where nodeSelector, affinity, taints and requests allow; an unschedulable pod's
FailedScheduling event and PodScheduled=False condition; preemption by PriorityClass;
a second scheduler (``pyk8s scheduler --config``) that schedules only its own pods."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.scheduler.conftest import Cluster, kept_ready, node, pod, wait_for

pytestmark = pytest.mark.e2e

LARGE, SMALL, TAINTED = "sched-large", "sched-small", "sched-tainted"
BLUE_TAINT = {"key": "dedicated", "value": "blue", "effect": "NoSchedule"}


@pytest.fixture(scope="module")
def nodes(cluster: Cluster) -> Iterator[list[str]]:
    cluster.apply(
        node(LARGE, "4", labels={"size": "large"}),
        node(SMALL, "2", labels={"size": "small"}),
        node(TAINTED, "8", labels={"size": "gpu"}, taints=[BLUE_TAINT]),
    )
    names = [LARGE, SMALL, TAINTED]
    with kept_ready(cluster, names):
        yield names


def bound_node(cluster: Cluster, name: str, ns: str = "default") -> str:
    return str(cluster.get("pod", name, "-n", ns)["spec"].get("nodeName") or "")


def wait_bound(cluster: Cluster, name: str, ns: str = "default", timeout: float = 60) -> str:
    return wait_for(f"pod {name} to be bound", lambda: bound_node(cluster, name, ns), timeout)


def condition(pod_obj: dict[str, Any], kind: str) -> dict[str, Any]:
    for c in (pod_obj.get("status") or {}).get("conditions") or []:
        if c["type"] == kind:
            return dict(c)
    return {}


def affinity(key: str, *values: str) -> dict[str, Any]:
    term = {"matchExpressions": [{"key": key, "operator": "In", "values": list(values)}]}
    return {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [term]}
        }
    }


def test_pods_go_where_their_constraints_allow(cluster: Cluster, nodes: list[str]) -> None:
    cluster.kubectl("create", "namespace", "place")
    cluster.apply(
        *[
            {**p, "metadata": {**p["metadata"], "namespace": "place"}}
            for p in (
                pod("by-selector", nodeSelector={"size": "small"}),
                pod("by-affinity", affinity=affinity("size", "large")),
                pod(
                    "tolerates-blue",
                    affinity=affinity("size", "gpu"),
                    tolerations=[{"key": "dedicated", "operator": "Equal", "value": "blue"}],
                ),
                pod("needs-3-cpus", cpu="3"),
                pod("avoids-taint", affinity=affinity("size", "gpu", "small")),
            )
        ]
    )
    expected = {
        "by-selector": SMALL,
        "by-affinity": LARGE,
        "tolerates-blue": TAINTED,
        "needs-3-cpus": LARGE,  # 2 cpus on the small node; the taint keeps it off the gpu one
        "avoids-taint": SMALL,
    }
    got = {name: wait_bound(cluster, name, "place") for name in expected}
    assert got == expected
    wide = cluster.kubectl("get", "pods", "-n", "place", "-o", "wide").stdout
    assert any(line.split()[0] == "by-selector" and SMALL in line for line in wide.splitlines())
    events = cluster.kubectl(
        "get", "events", "-n", "place", "--field-selector", "reason=Scheduled"
    ).stdout
    assert f"Successfully assigned place/tolerates-blue to {TAINTED}" in events
    scheduled = condition(cluster.get("pod", "by-affinity", "-n", "place"), "PodScheduled")
    assert scheduled["status"] == "True"
    cluster.delete_pods(*expected, ns="place")
    cluster.kubectl("delete", "namespace", "place", "--wait=false")


def test_unschedulable_pod_says_why_until_a_node_fits(cluster: Cluster, nodes: list[str]) -> None:
    cluster.apply(pod("huge", cpu="16"))
    message = (
        "0/3 nodes are available: 1 node(s) had untolerated taint {dedicated: blue}, "
        "2 Insufficient cpu. preemption: 0/3 nodes are available: "
        "3 Preemption is not helpful for scheduling."
    )

    def failed() -> dict[str, Any]:
        return condition(cluster.get("pod", "huge"), "PodScheduled")

    cond = wait_for("PodScheduled=False", lambda: failed() if failed().get("status") else None)
    assert (cond["status"], cond["reason"], cond["message"]) == ("False", "Unschedulable", message)
    describe = cluster.kubectl("describe", "pod", "huge").stdout
    assert "PodScheduled   False" in describe
    event_line = next(line for line in describe.splitlines() if "FailedScheduling" in line)
    assert event_line.split()[:2] == ["Warning", "FailedScheduling"]
    assert "default-scheduler" in event_line and event_line.endswith(message)
    events = cluster.kubectl("get", "events", "--field-selector", "involvedObject.name=huge")
    assert "FailedScheduling" in events.stdout and "pod/huge" in events.stdout
    assert bound_node(cluster, "huge") == ""
    # A node that fits makes the pod schedulable again (a Node/Add event re-queues it).
    cluster.apply(node("sched-big", "32"))
    try:
        assert wait_bound(cluster, "huge") == "sched-big"
    finally:
        cluster.delete_pods("huge")
        cluster.kubectl("delete", "node", "sched-big")


def test_preemption_by_priority(cluster: Cluster, nodes: list[str]) -> None:
    cluster.apply(
        {
            "apiVersion": "scheduling.k8s.io/v1",
            "kind": "PriorityClass",
            "metadata": {"name": "low"},
            "value": 100,
        },
        {
            "apiVersion": "scheduling.k8s.io/v1",
            "kind": "PriorityClass",
            "metadata": {"name": "high"},
            "value": 100000,
        },
        {
            "apiVersion": "scheduling.k8s.io/v1",
            "kind": "PriorityClass",
            "metadata": {"name": "high-never"},
            "value": 100000,
            "preemptionPolicy": "Never",
        },
        node("sched-prio", "2", labels={"size": "prio"}),
    )
    on_prio: dict[str, Any] = {"nodeSelector": {"size": "prio"}}
    cluster.apply(
        pod("low-1", cpu="1", priorityClassName="low", **on_prio),
        pod("low-2", cpu="1", priorityClassName="low", **on_prio),
    )
    assert wait_bound(cluster, "low-1") == wait_bound(cluster, "low-2") == "sched-prio"
    assert cluster.get("pod", "low-1")["spec"]["priority"] == 100

    # Never preempts: stays pending, nobody is evicted.
    cluster.apply(pod("polite", cpu="1", priorityClassName="high-never", **on_prio))
    polite = wait_for(
        "polite to be unschedulable",
        lambda: condition(cluster.get("pod", "polite"), "PodScheduled").get("message"),
    )
    assert polite.endswith("preemption: not eligible due to preemptionPolicy=Never.")
    cluster.delete_pods("polite")

    cluster.apply(pod("urgent", cpu="1", priorityClassName="high", **on_prio))
    nominated = wait_for(
        "urgent to be nominated",
        lambda: cluster.get("pod", "urgent")["status"].get("nominatedNodeName"),
    )
    assert nominated == "sched-prio"
    lows = {p: cluster.get("pod", p) for p in ("low-1", "low-2")}
    victims = [p for p, o in lows.items() if o["metadata"].get("deletionTimestamp")]
    assert len(victims) == 1, "one low pod is enough to make room"
    [victim] = victims
    target = condition(lows[victim], "DisruptionTarget")
    assert (target["status"], target["reason"]) == ("True", "PreemptionByScheduler")
    uid = cluster.get("pod", "urgent")["metadata"]["uid"]
    events = cluster.kubectl("get", "events", "--field-selector", f"involvedObject.name={victim}")
    assert f"Preempted by pod {uid} on node sched-prio" in events.stdout
    wide = cluster.kubectl("get", "pod", "urgent", "-o", "wide").stdout
    assert wide.splitlines()[1].split()[7] == "sched-prio"  # NOMINATED NODE
    assert bound_node(cluster, "urgent") == ""
    # No kubelet here: confirm the victim's termination as its kubelet would.
    cluster.delete_pods(victim)
    assert wait_bound(cluster, "urgent") == "sched-prio"
    cluster.delete_pods("low-1", "low-2", "urgent")
    cluster.kubectl("delete", "node", "sched-prio")


MY_SCHEDULER = """\
apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
leaderElection:
  leaderElect: true
  resourceName: my-scheduler
  resourceNamespace: kube-system
profiles:
- schedulerName: my-scheduler
"""


def test_second_scheduler_schedules_only_its_pods(
    cluster: Cluster, nodes: list[str], tmp_path: Path
) -> None:
    mine = pod("mine", nodeSelector={"size": "small"}, schedulerName="my-scheduler")
    cluster.apply(mine, pod("theirs", nodeSelector={"size": "small"}))
    assert wait_bound(cluster, "theirs") == SMALL
    time.sleep(1)
    assert bound_node(cluster, "mine") == "", "the default scheduler left it alone"
    assert cluster.get("events", "--field-selector", "involvedObject.name=mine")["items"] == []
    config = tmp_path / "my-scheduler.yaml"
    config.write_text(MY_SCHEDULER)
    with cluster.scheduler(f"--config={config}", log_name="my-scheduler.log") as log:
        assert wait_bound(cluster, "mine", timeout=60) == SMALL  # the process starts first
        lease = cluster.get("lease", "-n", "kube-system", "my-scheduler")
        assert lease["spec"]["holderIdentity"]
        cluster.apply(pod("mine-2", nodeSelector={"size": "large"}, schedulerName="my-scheduler"))
        assert wait_bound(cluster, "mine-2") == LARGE
    assert "profiles: my-scheduler" in log.read_text()
    events = cluster.get("events", "--field-selector", "reason=Scheduled")["items"]
    source = {
        e["involvedObject"]["name"]: e.get("reportingComponent")
        for e in events
        if e["involvedObject"]["name"] in ("mine", "mine-2", "theirs")
    }
    assert source == {
        "mine": "my-scheduler",
        "mine-2": "my-scheduler",
        "theirs": "default-scheduler",
    }
    wide = cluster.kubectl("get", "events", "-o", "wide", "--field-selector", "reason=Scheduled")
    mine_line = next(line for line in wide.stdout.splitlines() if "pod/mine " in line + " ")
    assert "my-scheduler" in mine_line
    # Its pods stay pending again once it is gone.
    cluster.apply(pod("mine-3", schedulerName="my-scheduler"))
    time.sleep(1)
    assert bound_node(cluster, "mine-3") == ""
    cluster.delete_pods("mine", "mine-2", "mine-3", "theirs")


def test_standby_scheduler_waits_for_the_lease(cluster: Cluster, nodes: list[str]) -> None:
    """A second default scheduler with leader election (as kubeadm runs one per control
    plane node) stands by while the server's holds kube-system/kube-scheduler."""
    holder = cluster.get("lease", "-n", "kube-system", "kube-scheduler")["spec"]["holderIdentity"]
    with cluster.scheduler("--leader-elect=true", log_name="standby.log") as log:
        wait_for(
            "the standby to try the lease",
            lambda: "attempting to acquire leader lease" in log.read_text(),
            timeout=60,
        )
        time.sleep(1)
        assert "successfully acquired" not in log.read_text()
    lease = cluster.get("lease", "-n", "kube-system", "kube-scheduler")
    assert lease["spec"]["holderIdentity"] == holder


def test_kubectl_label_taint_and_cordon_move_pods(cluster: Cluster, nodes: list[str]) -> None:
    """The seeds' node commands: ``kubectl label nodes``, ``kubectl taint nodes ...`` (and
    its ``-`` form), ``kubectl cordon``/``uncordon``; each change re-queues waiting pods."""
    cluster.apply(node("sched-edit", "2"))
    on_edit: dict[str, Any] = {"nodeSelector": {"hardware": "high-spec"}}

    def waiting_because(name: str) -> str:
        return str(
            wait_for(
                f"{name} to be unschedulable",
                lambda: condition(cluster.get("pod", name), "PodScheduled").get("message"),
            )
        )

    try:
        cluster.apply(pod("labelled", **on_edit))
        time.sleep(0.5)
        assert bound_node(cluster, "labelled") == ""
        cluster.kubectl("label", "nodes", "sched-edit", "hardware=high-spec")
        assert wait_bound(cluster, "labelled") == "sched-edit"

        cluster.kubectl("taint", "nodes", "sched-edit", "app=blue:NoSchedule")
        cluster.apply(pod("after-taint", **on_edit))
        assert "1 node(s) had untolerated taint {app: blue}" in waiting_because("after-taint")
        cluster.kubectl("taint", "nodes", "sched-edit", "app=blue:NoSchedule-")
        assert wait_bound(cluster, "after-taint") == "sched-edit"

        cluster.kubectl("cordon", "sched-edit")
        cluster.apply(pod("after-cordon", **on_edit))
        assert "1 node(s) were unschedulable" in waiting_because("after-cordon")
        cluster.kubectl("uncordon", "sched-edit")
        assert wait_bound(cluster, "after-cordon") == "sched-edit"
    finally:
        cluster.delete_pods("labelled", "after-taint", "after-cordon")
        cluster.kubectl("delete", "node", "sched-edit")


def test_scheduling_gates_hold_a_pod_until_kubectl_removes_them(
    cluster: Cluster, nodes: list[str]
) -> None:
    """A gated pod reads ``SchedulingGated`` in ``kubectl get``, gets no FailedScheduling,
    refuses a new gate, and is scheduled once ``kubectl patch`` removes the last one."""
    cluster.apply(node("sched-gate", "2", labels={"gate": "yes"}))
    gated = pod("gated", nodeSelector={"gate": "yes"})
    gated["spec"]["schedulingGates"] = [{"name": "example.com/a"}, {"name": "example.com/b"}]
    try:
        cluster.apply(gated)
        row = cluster.kubectl("get", "pod", "gated", "--no-headers").stdout.split()
        assert row[2] == "SchedulingGated"
        cond = condition(cluster.get("pod", "gated"), "PodScheduled")
        assert (cond["status"], cond["reason"]) == ("False", "SchedulingGated")
        refused = cluster.kubectl(
            "patch", "pod", "gated", "--type=json",
            "-p", '[{"op":"add","path":"/spec/schedulingGates/-","value":{"name":"x"}}]',
            check=False,
        )  # fmt: skip
        assert refused.returncode != 0
        assert (
            "spec.schedulingGates[2].name: Forbidden: only deletion is allowed, "
            "but found new scheduling gate 'x'" in refused.stderr
        )
        cluster.kubectl(
            "patch", "pod", "gated", "--type=json",
            "-p", '[{"op":"remove","path":"/spec/schedulingGates/0"}]',
        )  # fmt: skip
        time.sleep(1)
        assert bound_node(cluster, "gated") == ""
        cluster.kubectl(
            "patch", "pod", "gated", "--type=json",
            "-p", '[{"op":"remove","path":"/spec/schedulingGates"}]',
        )  # fmt: skip
        assert wait_bound(cluster, "gated") == "sched-gate"
        events = cluster.kubectl("get", "events", "--field-selector", "involvedObject.name=gated")
        assert "FailedScheduling" not in events.stdout
    finally:
        cluster.delete_pods("gated")
        cluster.kubectl("delete", "node", "sched-gate")


def test_a_pod_waits_for_its_claim_then_follows_its_local_volume(
    cluster: Cluster, nodes: list[str]
) -> None:
    """VolumeBinding: a missing claim keeps the pod Pending with upstream's words; the claim
    appearing (bound to a ``local`` volume pinned to one node) sends it to that node."""
    cluster.apply(node("sched-disk", "2"))
    with_claim = pod("with-claim")
    with_claim["spec"]["volumes"] = [
        {"name": "data", "persistentVolumeClaim": {"claimName": "data"}}
    ]
    term = {
        "matchExpressions": [
            {"key": "kubernetes.io/hostname", "operator": "In", "values": ["sched-disk"]}
        ]
    }
    volume = {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {"name": "sched-local"},
        "spec": {
            "capacity": {"storage": "1Gi"},
            "accessModes": ["ReadWriteOnce"],
            "storageClassName": "local",
            "local": {"path": "/mnt/disk"},
            "nodeAffinity": {"required": {"nodeSelectorTerms": [term]}},
        },
    }
    claim = {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": "data"},
        "spec": {
            "accessModes": ["ReadWriteOnce"],
            "storageClassName": "local",
            "resources": {"requests": {"storage": "1Gi"}},
            "volumeName": "sched-local",
        },
    }
    message = re.compile(
        r'0/(\d+) nodes are available: persistentvolumeclaim "data" not found\. '
        r"preemption: 0/\1 nodes are available: \1 Preemption is not helpful for scheduling\."
    )
    try:
        cluster.apply(with_claim)
        cond = wait_for(
            "PodScheduled=False",
            lambda: condition(cluster.get("pod", "with-claim"), "PodScheduled") or None,
        )
        assert cond["reason"] == "Unschedulable"
        assert message.fullmatch(cond["message"]), cond["message"]
        cluster.apply(volume, claim)
        assert wait_bound(cluster, "with-claim") == "sched-disk"
    finally:
        cluster.delete_pods("with-claim")
        cluster.kubectl("delete", "pvc", "data", "--wait=false", "--ignore-not-found")
        cluster.kubectl("delete", "pv", "sched-local", "--wait=false", "--ignore-not-found")
        cluster.kubectl("delete", "node", "sched-disk")


def test_the_seed_custom_scheduler_command_line(cluster: Cluster, nodes: list[str]) -> None:
    """The seed's ``my-custom-scheduler`` (kube-scheduler flags of the 1.11 manifest, the
    insecure ``--address`` included) schedules the seed's nginx pod, and ``kubectl get
    events`` names it as the source."""
    cluster.apply(node("sched-custom", "2", labels={"custom": "yes"}))
    nginx = pod("seed-nginx", schedulerName="my-custom-scheduler", nodeSelector={"custom": "yes"})
    with cluster.scheduler(
        "--address=127.0.0.1",
        "--leader-elect=true",
        "--scheduler-name=my-custom-scheduler",
        "--lock-object-name=my-custom-scheduler",
        log_name="my-custom-scheduler.log",
    ):
        cluster.apply(nginx)
        try:
            assert wait_bound(cluster, "seed-nginx", timeout=60) == "sched-custom"
            lease = cluster.get("lease", "-n", "kube-system", "my-custom-scheduler")
            assert lease["spec"]["holderIdentity"]
            events = cluster.kubectl(
                "get", "events", "-o", "wide", "--field-selector", "involvedObject.name=seed-nginx"
            ).stdout
            line = next(line for line in events.splitlines() if "Scheduled" in line)
            # SOURCE is "component, instance" (printers.go formatEventSource): the scheduler
            # reports as my-custom-scheduler, its instance my-custom-scheduler-<host>
            assert re.search(r"\smy-custom-scheduler, my-custom-scheduler-\S+\s", line), line
        finally:
            cluster.delete_pods("seed-nginx")
            cluster.kubectl("delete", "node", "sched-custom")


def test_preemption_spares_the_pod_a_disruption_budget_protects(
    cluster: Cluster, nodes: list[str]
) -> None:
    """Of two equal victims, the one a PodDisruptionBudget allows no disruption of is kept."""
    cluster.apply(
        {
            "apiVersion": "scheduling.k8s.io/v1",
            "kind": "PriorityClass",
            "metadata": {"name": "pdb-low"},
            "value": 10,
        },
        {
            "apiVersion": "scheduling.k8s.io/v1",
            "kind": "PriorityClass",
            "metadata": {"name": "pdb-high"},
            "value": 1000,
        },
        {
            "apiVersion": "policy/v1",
            "kind": "PodDisruptionBudget",
            "metadata": {"name": "keep-db"},
            "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "db"}}},
        },
        node("sched-pdb", "2", labels={"size": "pdb"}),
    )
    on_node: dict[str, Any] = {"nodeSelector": {"size": "pdb"}, "priorityClassName": "pdb-low"}
    db = pod("db", cpu="1", **on_node)
    db["metadata"]["labels"] = {"app": "db"}
    cache = pod("cache", cpu="1", **on_node)
    try:
        # cache first: of two equal pods, the one placed first would be reprieved first
        cluster.apply(cache)
        assert wait_bound(cluster, "cache") == "sched-pdb"
        cluster.apply(db)
        assert wait_bound(cluster, "db") == "sched-pdb"
        # no pod here is Ready (no kubelet): the budget allows no disruption of db
        cluster.apply(
            pod("vip", cpu="1", nodeSelector={"size": "pdb"}, priorityClassName="pdb-high")
        )
        wait_for(
            "vip to be nominated",
            lambda: cluster.get("pod", "vip")["status"].get("nominatedNodeName"),
        )
        assert cluster.get("pod", "cache")["metadata"].get("deletionTimestamp")
        assert not cluster.get("pod", "db")["metadata"].get("deletionTimestamp")
    finally:
        cluster.delete_pods("db", "cache", "vip")
        cluster.kubectl("delete", "pdb", "keep-db", "--ignore-not-found")
        cluster.kubectl("delete", "node", "sched-pdb")
