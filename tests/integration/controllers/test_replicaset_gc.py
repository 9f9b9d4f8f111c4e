"""ReplicaSets and the garbage collector against the real API server (no kubelet)."""

from __future__ import annotations

from typing import Any

import pytest

from pyk8s.api import errors
from pyk8s.client import rest
from pyk8s.controllers.config import ControllerManagerConfig
from pyk8s.controllers.resources import PODS, REPLICASETS
from tests.integration.controllers.conftest import eventually


def rs_body(name: str, replicas: int) -> dict[str, Any]:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "c", "image": "nginx"}]},
            },
        },
    }


async def pods_of(client: rest.Client, app: str) -> list[dict[str, Any]]:
    listing = await client.list(PODS, "default", label_selector=f"app={app}")
    return list(listing["items"])


async def test_replicaset_creates_scales_and_reports(
    client: rest.Client, controllers: ControllerManagerConfig
) -> None:
    rs = await client.create(REPLICASETS, rs_body("web", 3), "default")

    async def three() -> list[dict[str, Any]] | None:
        items = await pods_of(client, "web")
        return items if len(items) == 3 else None

    pods = await eventually(three)
    for pod in pods:
        (ref,) = pod["metadata"]["ownerReferences"]
        assert (ref["kind"], ref["name"], ref["uid"]) == (
            "ReplicaSet",
            "web",
            rs["metadata"]["uid"],
        )
        assert ref["controller"] is True
        assert pod["metadata"]["name"].startswith("web-")

    async def status_says_three() -> bool:
        got = await client.get(REPLICASETS, "web", "default")
        st = got.get("status") or {}
        return st.get("replicas") == 3 and st.get("observedGeneration") == got["metadata"].get(
            "generation", 1
        )

    assert await eventually(status_says_three)
    await client.patch(REPLICASETS, "web", {"spec": {"replicas": 1}}, "default")

    async def one() -> bool:
        return len(await pods_of(client, "web")) == 1

    assert await eventually(one)


@pytest.mark.parametrize("policy", ["Background", "Foreground"])
async def test_deleting_owner_deletes_pods(
    client: rest.Client, controllers: ControllerManagerConfig, policy: str
) -> None:
    await client.create(REPLICASETS, rs_body("gc", 2), "default")

    async def two() -> bool:
        return len(await pods_of(client, "gc")) == 2

    assert await eventually(two)
    await client.delete(REPLICASETS, "gc", "default", propagation_policy=policy)

    async def all_gone() -> bool:
        if await pods_of(client, "gc"):
            return False
        try:
            await client.get(REPLICASETS, "gc", "default")
        except errors.NotFound:
            return True
        return False

    assert await eventually(all_gone)


async def test_orphan_deletion_keeps_pods(
    client: rest.Client, controllers: ControllerManagerConfig
) -> None:
    await client.create(REPLICASETS, rs_body("orph", 2), "default")

    async def two() -> bool:
        return len(await pods_of(client, "orph")) == 2

    assert await eventually(two)
    await client.delete(REPLICASETS, "orph", "default", propagation_policy="Orphan")

    async def rs_gone_pods_orphaned() -> bool:
        try:
            await client.get(REPLICASETS, "orph", "default")
            return False
        except errors.NotFound:
            pass
        pods = await pods_of(client, "orph")
        return len(pods) == 2 and all(not p["metadata"].get("ownerReferences") for p in pods)

    assert await eventually(rs_gone_pods_orphaned)
