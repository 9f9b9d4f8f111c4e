"""NamespaceLifecycle on deletes: the system namespaces may not be deleted, others may."""

from __future__ import annotations

import pytest

from tests.integration.apiserver.conftest import Client


@pytest.mark.parametrize("name", ["default", "kube-system", "kube-public"])
async def test_system_namespaces_may_not_be_deleted(client: Client, name: str) -> None:
    status, err = await client.delete(f"/api/v1/namespaces/{name}")
    assert (status, err["reason"]) == (403, "Forbidden")
    assert err["message"] == f'namespaces "{name}" is forbidden: this namespace may not be deleted'
    status, ns = await client.get(f"/api/v1/namespaces/{name}")
    assert status == 200 and "deletionTimestamp" not in ns["metadata"]


async def test_other_namespaces_may_be_deleted(client: Client) -> None:
    await client.post("/api/v1/namespaces", {"metadata": {"name": "mortal"}})
    status, body = await client.delete("/api/v1/namespaces/mortal")
    assert status == 200 and body["status"]["phase"] == "Terminating"
