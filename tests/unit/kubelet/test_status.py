"""The API pod status from the runtime's view: phase, conditions and container states."""

from __future__ import annotations

from typing import Any

import pytest

from pyk8s.kubelet import status
from pyk8s.kubelet.runtime import actions
from pyk8s.kubelet.runtime import interface as cri

NOW = "2026-01-01T00:00:00Z"
SANDBOX = cri.PodSandboxStatus(
    id="sb", metadata=cri.PodSandboxMetadata("p", "u", "default"),
    state=cri.SandboxState.READY, created_at=1,
)  # fmt: skip


def pod(restart: str = "Always", **spec: Any) -> dict[str, Any]:
    spec.setdefault("containers", [{"name": "c", "image": "busybox"}])
    return {"metadata": {"name": "p", "namespace": "default", "uid": "u"},
            "spec": {"restartPolicy": restart, **spec}, "status": {}}  # fmt: skip


def container(
    name: str, state: cri.ContainerState, exit_code: int = 0, attempt: int = 0,
    created: int = 10, reason: str = "",
) -> cri.ContainerStatus:  # fmt: skip
    return cri.ContainerStatus(
        id=f"{name}-{attempt}", sandbox_id="sb", metadata=cri.ContainerMetadata(name, attempt),
        state=state, created_at=created, started_at=created + 1,
        finished_at=created + 2 if state == cri.ContainerState.EXITED else 0,
        exit_code=exit_code, image_ref="sha256:img", reason=reason,
    )  # fmt: skip


def gen(p: dict[str, Any], *cs: cri.ContainerStatus, observed: status.Observed | None = None,
        sandboxes: tuple[cri.PodSandboxStatus, ...] = (SANDBOX,)) -> dict[str, Any]:  # fmt: skip
    return status.generate(
        p, actions.PodStatus(sandboxes, cs), observed or status.Observed(),
        host_ip="10.0.0.5", now=NOW,
    )  # fmt: skip


def conds(st: dict[str, Any]) -> dict[str, str]:
    return {c["type"]: c["status"] for c in st["conditions"]}


def test_nothing_yet_is_pending_container_creating() -> None:
    st = gen(pod(), sandboxes=())
    assert st["phase"] == "Pending"
    assert st["containerStatuses"][0]["state"] == {"waiting": {"reason": "ContainerCreating"}}
    assert conds(st)["PodReadyToStartContainers"] == "False"
    assert st["qosClass"] == "BestEffort" and st["hostIP"] == "10.0.0.5"


def test_running_and_ready_without_probes() -> None:
    st = gen(pod(), container("c", cri.ContainerState.RUNNING))
    assert st["phase"] == "Running"
    cs = st["containerStatuses"][0]
    assert (cs["ready"], cs["started"], cs["containerID"]) == (True, True, "runc://c-0")
    assert conds(st) == {"PodReadyToStartContainers": "True", "Initialized": "True",
                         "Ready": "True", "ContainersReady": "True"}  # fmt: skip


def test_readiness_probe_result_decides_ready() -> None:
    p = pod(containers=[{"name": "c", "readinessProbe": {"exec": {"command": ["true"]}}}])
    running = container("c", cri.ContainerState.RUNNING)
    assert conds(gen(p, running))["Ready"] == "False"
    st = gen(p, running, observed=status.Observed(ready={"c-0": True}))
    assert conds(st)["Ready"] == "True"


def test_crash_loop_keeps_pod_running_with_last_state() -> None:
    dead = container("c", cri.ContainerState.EXITED, exit_code=3, attempt=1, reason="Error")
    observed = status.Observed(waiting={"c": ("CrashLoopBackOff", "back-off 10s ...")})
    st = gen(pod(), dead, observed=observed)
    cs = st["containerStatuses"][0]
    assert st["phase"] == "Running"
    assert cs["state"]["waiting"]["reason"] == "CrashLoopBackOff"
    assert cs["lastState"]["terminated"]["exitCode"] == 3
    assert cs["restartCount"] == 1


@pytest.mark.parametrize(
    ("policy", "code", "phase"),
    [
        pytest.param("Never", 0, "Succeeded", id="never-ok"),
        pytest.param("Never", 1, "Failed", id="never-failed"),
        pytest.param("OnFailure", 0, "Succeeded", id="onfailure-ok"),
        pytest.param("Always", 0, "Running", id="always-restarts"),
    ],
)
def test_phase_of_exited_containers(policy: str, code: int, phase: str) -> None:
    st = gen(pod(policy), container("c", cri.ContainerState.EXITED, exit_code=code))
    assert st["phase"] == phase


def test_oom_killed_reason() -> None:
    dead = container("c", cri.ContainerState.EXITED, exit_code=137, reason="OOMKilled")
    st = gen(pod("Never"), dead)
    term = st["containerStatuses"][0]["state"]["terminated"]
    assert (term["reason"], term["exitCode"], st["phase"]) == ("OOMKilled", 137, "Failed")


def test_init_containers_gate_initialized() -> None:
    p = pod(initContainers=[{"name": "i1"}, {"name": "i2"}])
    st = gen(p, container("i1", cri.ContainerState.EXITED))
    assert st["phase"] == "Pending" and conds(st)["Initialized"] == "False"
    assert st["containerStatuses"][0]["state"]["waiting"]["reason"] == "PodInitializing"
    assert st["initContainerStatuses"][1]["state"]["waiting"]["reason"] == "PodInitializing"
    st = gen(p, container("i1", cri.ContainerState.EXITED),
             container("i2", cri.ContainerState.EXITED, created=20),
             container("c", cri.ContainerState.RUNNING, created=30))  # fmt: skip
    assert st["phase"] == "Running" and conds(st)["Initialized"] == "True"


def test_transition_times_and_foreign_conditions_kept() -> None:
    p = pod()
    p["status"] = {"conditions": [
        {"type": "PodScheduled", "status": "True", "lastTransitionTime": "T0"},
        {"type": "Ready", "status": "True", "lastTransitionTime": "T1"},
    ], "startTime": "S"}  # fmt: skip
    st = gen(p, container("c", cri.ContainerState.RUNNING))
    by = {c["type"]: c for c in st["conditions"]}
    assert by["PodScheduled"]["lastTransitionTime"] == "T0"
    assert by["Ready"]["lastTransitionTime"] == "T1"
    assert by["ContainersReady"]["lastTransitionTime"] == NOW
    assert st["startTime"] == "S"


@pytest.mark.parametrize(
    ("resources", "qos"),
    [
        pytest.param({}, "BestEffort", id="none"),
        pytest.param({"requests": {"cpu": "1"}}, "Burstable", id="requests"),
        pytest.param({"limits": {"cpu": "1", "memory": "1Gi"}}, "Guaranteed", id="limits"),
    ],
)
def test_qos_class(resources: dict[str, Any], qos: str) -> None:
    assert status.qos_class(pod(containers=[{"name": "c", "resources": resources}])) == qos
