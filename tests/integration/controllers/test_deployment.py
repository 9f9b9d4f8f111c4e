"""Deployments against the real API server; a stand-in marks pods Ready (no kubelet here)."""

from __future__ import annotations

from typing import Any

from pyk8s.client import rest
from pyk8s.controllers.config import ControllerManagerConfig
from pyk8s.controllers.resources import DEPLOYMENTS, PODS, REPLICASETS
from tests.integration.controllers.conftest import eventually
from tests.integration.controllers.kubelet_stand_in import ready_pods

REVISION = "deployment.kubernetes.io/revision"


def deployment(name: str, replicas: int, image: str = "nginx:1") -> dict[str, Any]:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"},
            },
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "c", "image": image}]},
            },
        },
    }


async def rollout_complete(client: rest.Client, name: str) -> dict[str, Any] | None:
    """What ``kubectl rollout status`` checks."""
    d = await client.get(DEPLOYMENTS, name, "default")
    st = d.get("status") or {}
    want = d["spec"]["replicas"]
    if int(st.get("observedGeneration") or 0) < d["metadata"]["generation"]:
        return None
    if st.get("updatedReplicas", 0) < want or st.get("replicas", 0) > st.get("updatedReplicas", 0):
        return None
    if st.get("availableReplicas", 0) < st.get("updatedReplicas", 0):
        return None
    return d


async def sets_of(client: rest.Client, app: str) -> dict[str, dict[str, Any]]:
    listing = await client.list(REPLICASETS, "default", label_selector=f"app={app}")
    return {rs["metadata"]["name"]: rs for rs in listing["items"]}


async def test_rollout_update_and_rollback(
    client: rest.Client, controllers: ControllerManagerConfig
) -> None:
    async with ready_pods(client):
        created = await client.create(DEPLOYMENTS, deployment("web", 3), "default")
        d = await eventually(lambda: rollout_complete(client, "web"))
        (rs,) = (await sets_of(client, "web")).values()
        ref = rs["metadata"]["ownerReferences"][0]
        assert (ref["kind"], ref["uid"]) == ("Deployment", created["metadata"]["uid"])
        pod_hash = rs["metadata"]["labels"]["pod-template-hash"]
        assert rs["metadata"]["name"] == f"web-{pod_hash}"
        assert rs["metadata"]["annotations"][REVISION] == "1"
        assert d["metadata"]["annotations"][REVISION] == "1"
        conditions = {c["type"]: c for c in d["status"]["conditions"]}
        assert conditions["Available"]["status"] == "True"
        assert conditions["Progressing"]["reason"] == "NewReplicaSetAvailable"
        pods = (await client.list(PODS, "default", label_selector="app=web"))["items"]
        assert len(pods) == 3
        assert {p["metadata"]["ownerReferences"][0]["uid"] for p in pods} == {rs["metadata"]["uid"]}

        # A new template rolls out a second ReplicaSet and retires the first.
        await client.patch(
            DEPLOYMENTS,
            "web",
            {
                "metadata": {"annotations": {"kubernetes.io/change-cause": "image 2"}},
                "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "nginx:2"}]}}},
            },
            "default",
        )

        async def rolled() -> dict[str, Any] | None:
            d = await rollout_complete(client, "web")
            sets = await sets_of(client, "web")
            if d is None or len(sets) != 2:
                return None
            return d if d["metadata"]["annotations"][REVISION] == "2" else None

        await eventually(rolled, timeout=40)
        sets = await sets_of(client, "web")
        old, new = (
            sets[rs["metadata"]["name"]],
            next(s for n, s in sets.items() if n != rs["metadata"]["name"]),
        )
        assert old["spec"]["replicas"] == 0
        assert new["spec"]["replicas"] == 3
        assert new["metadata"]["annotations"]["kubernetes.io/change-cause"] == "image 2"

        # Rollback (what `kubectl rollout undo` does): the old template comes back.
        await client.patch(
            DEPLOYMENTS,
            "web",
            {"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "nginx:1"}]}}}},
            "default",
        )

        async def rolled_back() -> bool:
            d = await rollout_complete(client, "web")
            sets = await sets_of(client, "web")
            again = sets[rs["metadata"]["name"]]
            return (
                d is not None
                and again["spec"]["replicas"] == 3
                and again["metadata"]["annotations"][REVISION] == "3"
                and d["metadata"]["annotations"][REVISION] == "3"
            )

        assert await eventually(rolled_back, timeout=40)


async def test_recreate_and_scale(
    client: rest.Client, controllers: ControllerManagerConfig
) -> None:
    body = deployment("rec", 2)
    body["spec"]["strategy"] = {"type": "Recreate"}
    async with ready_pods(client):
        await client.create(DEPLOYMENTS, body, "default")
        await eventually(lambda: rollout_complete(client, "rec"))
        await client.patch(DEPLOYMENTS, "rec", {"spec": {"replicas": 4}}, "default")

        async def four() -> bool:
            d = await rollout_complete(client, "rec")
            return d is not None and d["status"]["availableReplicas"] == 4

        assert await eventually(four)
        await client.patch(
            DEPLOYMENTS,
            "rec",
            {"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "nginx:2"}]}}}},
            "default",
        )

        async def recreated() -> bool:
            d = await rollout_complete(client, "rec")
            sets = await sets_of(client, "rec")
            return (
                d is not None
                and len(sets) == 2
                and sorted(s["spec"]["replicas"] for s in sets.values()) == [0, 4]
            )

        assert await eventually(recreated, timeout=40)
