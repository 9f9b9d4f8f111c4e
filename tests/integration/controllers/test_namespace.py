"""Namespace, service account and root CA controllers against the real API server."""

from __future__ import annotations

from pyk8s.api import errors
from pyk8s.client import rest
from pyk8s.controllers.config import ControllerManagerConfig
from pyk8s.controllers.resources import CONFIGMAPS, NAMESPACES, SERVICEACCOUNTS
from tests.integration.controllers.conftest import eventually


async def test_namespace_gets_default_account_and_root_ca(
    client: rest.Client, controllers: ControllerManagerConfig
) -> None:
    await client.create(NAMESPACES, {"metadata": {"name": "team"}})

    async def ready() -> bool:
        try:
            await client.get(SERVICEACCOUNTS, "default", "team")
            cm = await client.get(CONFIGMAPS, "kube-root-ca.crt", "team")
        except errors.NotFound:
            return False
        return "BEGIN CERTIFICATE" in cm["data"]["ca.crt"]

    assert await eventually(ready)


async def test_deleting_namespace_removes_content_then_namespace(
    client: rest.Client, controllers: ControllerManagerConfig
) -> None:
    await client.create(NAMESPACES, {"metadata": {"name": "doomed"}})
    for i in range(3):
        await client.create(CONFIGMAPS, {"metadata": {"name": f"c{i}"}, "data": {}}, "doomed")
    await client.create(CONFIGMAPS, {"metadata": {"name": "safe"}, "data": {}}, "default")
    await client.delete(NAMESPACES, "doomed")

    async def gone() -> bool:
        try:
            ns = await client.get(NAMESPACES, "doomed")
        except errors.NotFound:
            return True
        assert ns["status"]["phase"] == "Terminating"
        return False

    assert await eventually(gone)
    listing = await client.list(CONFIGMAPS, "doomed")
    assert listing["items"] == []
    await client.get(CONFIGMAPS, "safe", "default")
