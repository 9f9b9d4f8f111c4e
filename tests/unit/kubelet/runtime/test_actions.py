"""compute_pod_actions, table-driven as upstream's TestComputePodActions*."""

from __future__ import annotations

from typing import Any

import pytest

from pyk8s.kubelet.runtime import actions
from pyk8s.kubelet.runtime.actions import ContainerToKill, KillReason, PodActions, ProbeResult
from pyk8s.kubelet.runtime.interface import (
    ContainerMetadata,
    ContainerState,
    ContainerStatus,
    PodSandboxMetadata,
    PodSandboxStatus,
    SandboxState,
)

RUNNING = ContainerState.RUNNING
EXITED = ContainerState.EXITED
CREATED = ContainerState.CREATED
UNKNOWN = ContainerState.UNKNOWN


def pod(
    containers: tuple[str, ...] = ("a", "b", "c"),
    init: tuple[str, ...] = (),
    policy: str = "Always",
    host_network: bool = False,
    deleting: bool = False,
    ephemeral: tuple[str, ...] = (),
    probes: dict[str, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """``init`` names ending in ``+`` are sidecars (``restartPolicy: Always``)."""
    probes = probes or {}

    def container(name: str) -> dict[str, Any]:
        c: dict[str, Any] = {"name": name.rstrip("+"), "image": "busybox"}
        if name.endswith("+"):
            c["restartPolicy"] = "Always"
        c.update(probes.get(name.rstrip("+"), {}))
        return c

    meta: dict[str, Any] = {"name": "p", "namespace": "default", "uid": "u1"}
    if deleting:
        meta["deletionTimestamp"] = "2025-01-01T00:00:00Z"
    spec: dict[str, Any] = {
        "containers": [container(n) for n in containers],
        "restartPolicy": policy,
        "hostNetwork": host_network,
    }
    if init:
        spec["initContainers"] = [container(n) for n in init]
    if ephemeral:
        spec["ephemeralContainers"] = [{"name": n, "image": "busybox"} for n in ephemeral]
    return {"metadata": meta, "spec": spec}


def sandbox(
    sid: str = "sb1",
    state: SandboxState = SandboxState.READY,
    attempt: int = 0,
    created: int = 1,
    host_network: bool = False,
) -> PodSandboxStatus:
    return PodSandboxStatus(
        id=sid,
        metadata=PodSandboxMetadata("p", "u1", "default", attempt),
        state=state,
        created_at=created,
        netns_path="" if host_network else f"/run/netns/{sid}",
    )


def ctr(
    name: str, state: ContainerState, exit_code: int = 0, created: int = 10, reason: str = ""
) -> ContainerStatus:
    return ContainerStatus(
        id=f"id-{name}-{created}",
        sandbox_id="sb1",
        metadata=ContainerMetadata(name),
        state=state,
        created_at=created,
        exit_code=exit_code,
        reason=reason,
    )


def status(*containers: ContainerStatus, sandboxes: tuple[PodSandboxStatus, ...] | None = None):
    return actions.PodStatus(
        sandboxes=(sandbox(),) if sandboxes is None else sandboxes, containers=containers
    )


ALL_RUNNING = (ctr("a", RUNNING), ctr("b", RUNNING), ctr("c", RUNNING))


def kill(name: str, message: str, reason: KillReason = KillReason.NONE, created: int = 10):
    return ContainerToKill(f"id-{name}-{created}", name, message, reason)


CASES = [
    pytest.param(
        pod(),
        status(sandboxes=()),
        {},
        PodActions(kill_pod=True, create_sandbox=True, containers_to_start=(0, 1, 2)),
        id="new-pod-creates-sandbox-and-starts-all",
    ),
    pytest.param(
        pod(), status(*ALL_RUNNING), {}, PodActions(sandbox_id="sb1"), id="all-running-nothing"
    ),
    pytest.param(
        pod(),
        status(*ALL_RUNNING, sandboxes=(sandbox(state=SandboxState.NOTREADY),)),
        {},
        PodActions(
            kill_pod=True,
            create_sandbox=True,
            sandbox_id="sb1",
            attempt=1,
            containers_to_start=(0, 1, 2),
        ),
        id="dead-sandbox-is-recreated-with-next-attempt",
    ),
    pytest.param(
        pod(),
        status(*ALL_RUNNING, sandboxes=(sandbox("sb1", created=1), sandbox("sb2", created=2))),
        {},
        PodActions(
            kill_pod=True,
            create_sandbox=True,
            sandbox_id="sb2",
            attempt=1,
            containers_to_start=(0, 1, 2),
        ),
        id="two-ready-sandboxes-recreate",
    ),
    pytest.param(
        pod(host_network=True),
        status(*ALL_RUNNING),
        {},
        PodActions(kill_pod=True, create_sandbox=True, attempt=1, containers_to_start=(0, 1, 2)),
        id="host-network-changed-recreates",
    ),
    pytest.param(
        pod(host_network=True),
        status(*ALL_RUNNING, sandboxes=(sandbox(host_network=True),)),
        {},
        PodActions(sandbox_id="sb1"),
        id="host-network-pod-kept",
    ),
    pytest.param(
        pod(policy="Always"),
        status(ctr("a", RUNNING), ctr("b", EXITED, 0), ctr("c", EXITED, 1)),
        {},
        PodActions(sandbox_id="sb1", containers_to_start=(1, 2)),
        id="always-restarts-every-exit",
    ),
    pytest.param(
        pod(policy="OnFailure"),
        status(ctr("a", RUNNING), ctr("b", EXITED, 0), ctr("c", EXITED, 1)),
        {},
        PodActions(sandbox_id="sb1", containers_to_start=(2,)),
        id="on-failure-restarts-only-failures",
    ),
    pytest.param(
        pod(policy="Never"),
        status(ctr("a", RUNNING), ctr("b", EXITED, 0), ctr("c", EXITED, 1)),
        {},
        PodActions(sandbox_id="sb1"),
        id="never-restarts-nothing",
    ),
    pytest.param(
        pod(policy="Never"),
        status(ctr("a", EXITED, 0), ctr("b", EXITED, 0), ctr("c", EXITED, 1)),
        {},
        PodActions(kill_pod=True, sandbox_id="sb1"),
        id="never-all-exited-kills-pod",
    ),
    pytest.param(
        pod(policy="OnFailure"),
        status(ctr("a", EXITED, 0), ctr("b", EXITED, 0), ctr("c", EXITED, 0)),
        {},
        PodActions(kill_pod=True, sandbox_id="sb1"),
        id="on-failure-all-succeeded-kills-pod",
    ),
    pytest.param(
        pod(policy="Never"),
        status(ctr("a", EXITED, 0), sandboxes=(sandbox(state=SandboxState.NOTREADY),)),
        {},
        PodActions(kill_pod=True, sandbox_id="sb1", attempt=1),
        id="never-dead-sandbox-not-recreated",
    ),
    pytest.param(
        pod(policy="OnFailure"),
        status(
            ctr("a", EXITED, 0),
            ctr("b", EXITED, 1),
            ctr("c", EXITED, 0),
            sandboxes=(sandbox(state=SandboxState.NOTREADY),),
        ),
        {},
        PodActions(
            kill_pod=True,
            create_sandbox=True,
            sandbox_id="sb1",
            attempt=1,
            containers_to_start=(1,),
        ),
        id="on-failure-dead-sandbox-starts-only-failed",
    ),
    pytest.param(
        pod(policy="OnFailure"),
        status(
            ctr("a", EXITED, 0),
            ctr("b", EXITED, 0),
            ctr("c", EXITED, 0),
            sandboxes=(sandbox(state=SandboxState.NOTREADY),),
        ),
        {},
        PodActions(kill_pod=True, sandbox_id="sb1", attempt=1),
        id="on-failure-dead-sandbox-all-succeeded-no-new-sandbox",
    ),
    pytest.param(
        pod(),
        status(ctr("a", RUNNING), ctr("b", UNKNOWN), ctr("c", RUNNING)),
        {},
        PodActions(
            sandbox_id="sb1",
            containers_to_start=(1,),
            containers_to_kill=(
                kill(
                    "b",
                    'Container is in "unknown" state, try killing it before restart',
                    KillReason.UNKNOWN,
                ),
            ),
        ),
        id="unknown-state-killed-then-restarted",
    ),
    pytest.param(
        pod(),
        status(*ALL_RUNNING),
        {"liveness": {"id-b-10": ProbeResult.FAILURE, "id-a-10": ProbeResult.SUCCESS}},
        PodActions(
            sandbox_id="sb1",
            containers_to_start=(1,),
            containers_to_kill=(
                kill(
                    "b",
                    "Container b failed liveness probe, will be restarted",
                    KillReason.LIVENESS_PROBE,
                ),
            ),
        ),
        id="liveness-failure-restarts",
    ),
    pytest.param(
        pod(containers=("a",), policy="Never"),
        status(ctr("a", RUNNING)),
        {"startup": {"id-a-10": ProbeResult.FAILURE}},
        PodActions(
            kill_pod=True,
            sandbox_id="sb1",
            containers_to_kill=(
                kill("a", "Container a failed startup probe", KillReason.STARTUP_PROBE),
            ),
        ),
        id="startup-failure-never-kills-pod",
    ),
    pytest.param(
        pod(deleting=True),
        status(ctr("a", RUNNING), ctr("b", EXITED, 1), ctr("c", RUNNING)),
        {},
        PodActions(sandbox_id="sb1"),
        id="deleting-pod-restarts-nothing",
    ),
    pytest.param(
        pod(),
        status(
            ctr("a", RUNNING),
            ctr("b", RUNNING),
            ctr("c", EXITED, 1, created=5),
            ctr("c", RUNNING, created=20),
        ),
        {},
        PodActions(sandbox_id="sb1"),
        id="newest-status-of-a-name-counts",
    ),
    pytest.param(
        pod(ephemeral=("debug", "old")),
        status(*ALL_RUNNING, ctr("old", EXITED, 0)),
        {},
        PodActions(sandbox_id="sb1", ephemeral_containers_to_start=(0,)),
        id="ephemeral-started-once",
    ),
    # ----- init containers
    pytest.param(
        pod(init=("i1", "i2")),
        status(sandboxes=()),
        {},
        PodActions(kill_pod=True, create_sandbox=True, init_containers_to_start=(0,)),
        id="init-new-pod-starts-first-init",
    ),
    pytest.param(
        pod(init=("i1", "i2")),
        status(ctr("i1", RUNNING)),
        {},
        PodActions(sandbox_id="sb1"),
        id="init-running-waits",
    ),
    pytest.param(
        pod(init=("i1", "i2")),
        status(ctr("i1", EXITED, 0)),
        {},
        PodActions(sandbox_id="sb1", init_containers_to_start=(1,)),
        id="init-done-starts-next",
    ),
    pytest.param(
        pod(init=("i1", "i2")),
        status(ctr("i1", EXITED, 0), ctr("i2", EXITED, 0)),
        {},
        PodActions(sandbox_id="sb1", containers_to_start=(0, 1, 2)),
        id="init-all-done-starts-regular",
    ),
    pytest.param(
        pod(init=("i1", "i2"), policy="Always"),
        status(ctr("i1", EXITED, 1)),
        {},
        PodActions(sandbox_id="sb1", init_containers_to_start=(0,)),
        id="init-failed-always-restarts-it",
    ),
    pytest.param(
        pod(init=("i1", "i2"), policy="Never"),
        status(ctr("i1", EXITED, 0), ctr("i2", EXITED, 1)),
        {},
        PodActions(kill_pod=True, sandbox_id="sb1"),
        id="init-failed-never-kills-pod",
    ),
    pytest.param(
        pod(init=("i1",), policy="Never"),
        status(ctr("i1", EXITED, 0, reason="OOMKilled")),
        {},
        PodActions(kill_pod=True, sandbox_id="sb1"),
        id="init-oomkilled-is-a-failure",
    ),
    pytest.param(
        pod(init=("i1", "i2")),
        status(*ALL_RUNNING),
        {},
        PodActions(sandbox_id="sb1"),
        id="init-statuses-gone-after-initialization",
    ),
    pytest.param(
        pod(init=("i1",), policy="OnFailure"),
        status(ctr("i1", UNKNOWN)),
        {},
        PodActions(
            sandbox_id="sb1",
            init_containers_to_start=(0,),
            containers_to_kill=(
                kill(
                    "i1",
                    'Init container is in "unknown" state, try killing it before restart',
                    KillReason.UNKNOWN,
                ),
            ),
        ),
        id="init-unknown-killed-and-restarted",
    ),
    # ----- sidecars (init containers with restartPolicy Always)
    pytest.param(
        pod(init=("side+", "i2")),
        status(ctr("side", RUNNING)),
        {},
        PodActions(sandbox_id="sb1", init_containers_to_start=(1,)),
        id="sidecar-running-starts-next-init",
    ),
    pytest.param(
        pod(init=("i1", "side+")),
        status(ctr("i1", EXITED, 0), ctr("side", RUNNING)),
        {},
        PodActions(sandbox_id="sb1", containers_to_start=(0, 1, 2)),
        id="sidecar-last-running-initializes-pod",
    ),
    pytest.param(
        pod(
            init=("side+", "i2"), probes={"side": {"startupProbe": {"exec": {"command": ["true"]}}}}
        ),
        status(ctr("side", RUNNING)),
        {},
        PodActions(sandbox_id="sb1"),
        id="sidecar-waits-for-startup-probe",
    ),
    pytest.param(
        pod(
            init=("side+", "i2"), probes={"side": {"startupProbe": {"exec": {"command": ["true"]}}}}
        ),
        status(ctr("side", RUNNING)),
        {"startup": {"id-side-10": ProbeResult.SUCCESS}},
        PodActions(sandbox_id="sb1", init_containers_to_start=(1,)),
        id="sidecar-started-by-probe-starts-next",
    ),
    pytest.param(
        pod(init=("side+",)),
        status(ctr("side", EXITED, 1), *ALL_RUNNING),
        {},
        PodActions(sandbox_id="sb1", init_containers_to_start=(0,)),
        id="sidecar-exited-is-restarted-beside-running-pod",
    ),
    pytest.param(
        pod(init=("side+",), probes={"side": {"livenessProbe": {"exec": {"command": ["true"]}}}}),
        status(ctr("side", RUNNING), *ALL_RUNNING),
        {"liveness": {"id-side-10": ProbeResult.FAILURE}},
        PodActions(
            sandbox_id="sb1",
            init_containers_to_start=(0,),
            containers_to_kill=(
                kill(
                    "side", "Init container side failed liveness probe", KillReason.LIVENESS_PROBE
                ),
            ),
        ),
        id="sidecar-liveness-failure-restarts-it",
    ),
    pytest.param(
        pod(init=("side+",), policy="Never"),
        status(ctr("side", RUNNING), ctr("a", EXITED, 0), ctr("b", EXITED, 0), ctr("c", EXITED, 0)),
        {},
        PodActions(kill_pod=True, sandbox_id="sb1"),
        id="sidecar-does-not-keep-finished-pod-alive",
    ),
]


@pytest.mark.parametrize(("the_pod", "the_status", "probes", "expected"), CASES)
def test_compute_pod_actions(
    the_pod: dict[str, Any],
    the_status: actions.PodStatus,
    probes: dict[str, Any],
    expected: PodActions,
) -> None:
    assert actions.compute_pod_actions(the_pod, the_status, **probes) == expected


def test_changed_spec_restarts_running_container_even_with_never() -> None:
    p = pod(containers=("a",), policy="Never")
    old = dict(p["spec"]["containers"][0], image="busybox:old")
    running = ContainerStatus(
        id="id-a",
        sandbox_id="sb1",
        metadata=ContainerMetadata("a"),
        state=RUNNING,
        created_at=10,
        annotations={actions.HASH_ANNOTATION: actions.container_hash(old)},
    )
    got = actions.compute_pod_actions(p, actions.PodStatus((sandbox(),), (running,)))
    assert got == PodActions(
        sandbox_id="sb1",
        containers_to_start=(0,),
        containers_to_kill=(
            ContainerToKill("id-a", "a", "Container a definition changed, will be restarted"),
        ),
    )
    same = dataclass_replace_hash(running, actions.container_hash(p["spec"]["containers"][0]))
    assert actions.compute_pod_actions(p, actions.PodStatus((sandbox(),), (same,))) == PodActions(
        sandbox_id="sb1"
    )


def dataclass_replace_hash(c: ContainerStatus, h: str) -> ContainerStatus:
    import dataclasses

    return dataclasses.replace(c, annotations={actions.HASH_ANNOTATION: h})


def test_container_hash_ignores_resources() -> None:
    c = {"name": "a", "image": "x", "resources": {"limits": {"cpu": "1"}}}
    assert actions.container_hash(c) == actions.container_hash({"image": "x", "name": "a"})
    assert actions.container_hash(c) != actions.container_hash({"name": "a", "image": "y"})
