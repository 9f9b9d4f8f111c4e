"""The RuntimeClass admission plugin through the API server: a pod takes its class's
overhead (which the scheduler adds to its requests) and scheduling constraints."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.apiserver.conftest import Client

PODS = "/api/v1/namespaces/default/pods"
CLASSES = "/apis/node.k8s.io/v1/runtimeclasses"
SANDBOX_TOLERATION = {"key": "sandbox", "operator": "Exists", "effect": "NoSchedule"}


def pod(name: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {"containers": [{"name": "c", "image": "busybox"}], **spec},
    }


@pytest.fixture
async def sandbox(client: Client) -> None:
    status, body = await client.post(
        CLASSES,
        {
            "apiVersion": "node.k8s.io/v1",
            "kind": "RuntimeClass",
            "metadata": {"name": "sandbox"},
            "handler": "runc",
            "overhead": {"podFixed": {"cpu": "250m", "memory": "120Mi"}},
            "scheduling": {
                "nodeSelector": {"runtime": "sandbox"},
                "tolerations": [SANDBOX_TOLERATION],
            },
        },
    )
    assert status == 201, body


async def test_a_pod_takes_its_runtime_class_overhead_and_scheduling(
    client: Client, sandbox: None
) -> None:
    status, created = await client.post(
        PODS, pod("p", runtimeClassName="sandbox", nodeSelector={"disk": "ssd"})
    )
    assert status == 201, created
    spec = created["spec"]
    assert spec["overhead"] == {"cpu": "250m", "memory": "120Mi"}
    assert spec["nodeSelector"] == {"disk": "ssd", "runtime": "sandbox"}
    assert SANDBOX_TOLERATION in spec["tolerations"]
    # the same overhead, written otherwise, is the same overhead
    status, body = await client.post(
        PODS,
        pod("same", runtimeClassName="sandbox", overhead={"cpu": "0.25", "memory": "120Mi"}),
    )
    assert status == 201, body


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        pytest.param(
            {"runtimeClassName": "nope"},
            'pods "bad" is forbidden: pod rejected: RuntimeClass "nope" not found',
            id="missing-class",
        ),
        pytest.param(
            {"runtimeClassName": "sandbox", "overhead": {"cpu": "1"}},
            "pod rejected: Pod's Overhead doesn't match RuntimeClass's defined Overhead",
            id="other-overhead",
        ),
        pytest.param(
            {"overhead": {"cpu": "1"}},
            "pod rejected: Pod Overhead set without corresponding RuntimeClass defined Overhead",
            id="overhead-without-class",
        ),
        pytest.param(
            {"runtimeClassName": "sandbox", "nodeSelector": {"runtime": "vm"}},
            "conflict: runtimeClass.scheduling.nodeSelector[runtime] = sandbox; "
            "pod.spec.nodeSelector[runtime] = vm",
            id="selector-conflict",
        ),
    ],
)
async def test_refused_with_upstream_words(
    client: Client, sandbox: None, spec: dict[str, Any], message: str
) -> None:
    status, body = await client.post(PODS, pod("bad", **spec))
    assert (status, body["reason"]) == (403, "Forbidden"), body
    assert message in body["message"]
