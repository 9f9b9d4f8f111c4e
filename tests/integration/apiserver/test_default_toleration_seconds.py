"""The DefaultTolerationSeconds admission plugin through the API server: new pods tolerate
the not-ready and unreachable NoExecute taints for 300 s unless they say otherwise."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.apiserver.conftest import Client

PODS = "/api/v1/namespaces/default/pods"
NOT_READY = {
    "key": "node.kubernetes.io/not-ready",
    "operator": "Exists",
    "effect": "NoExecute",
    "tolerationSeconds": 300,
}
UNREACHABLE = {**NOT_READY, "key": "node.kubernetes.io/unreachable"}


def pod(name: str, tolerations: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"containers": [{"name": "c", "image": "busybox"}]}
    if tolerations is not None:
        spec["tolerations"] = tolerations
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": spec}


MINE = {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute"}


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        pytest.param(None, [NOT_READY, UNREACHABLE], id="none-given"),
        pytest.param([MINE], [MINE, NOT_READY], id="own-unreachable-kept"),
        pytest.param([{"operator": "Exists"}], [{"operator": "Exists"}], id="tolerates-all"),
        pytest.param(
            [{"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoSchedule"}],
            [
                {
                    "key": "node.kubernetes.io/not-ready",
                    "operator": "Exists",
                    "effect": "NoSchedule",
                },
                NOT_READY,
                UNREACHABLE,
            ],
            id="no-schedule-does-not-count",
        ),
    ],
)
async def test_pods_get_default_tolerations(
    client: Client, given: list[dict[str, Any]] | None, expected: list[dict[str, Any]]
) -> None:
    status, created = await client.post(PODS, pod("p", given))
    assert status == 201, created
    assert created["spec"]["tolerations"] == expected
    # an update does not add them again
    status, again = await client.put(PODS + "/p", created)
    assert status == 200, again
    assert again["spec"]["tolerations"] == expected
