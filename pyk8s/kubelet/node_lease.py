"""The node's heartbeat: a Lease in ``kube-node-lease`` renewed every 10 s.

Mirrors ``staging/src/k8s.io/component-helpers/apimachinery/lease/controller.go``
(``controller.sync``: get or create the lease, then update ``renewTime``; the lease is owned by
the Node so that deleting the Node deletes it) and ``pkg/kubelet/util/nodelease.go``
(``setNodeOwnerFunc``).
"""

from __future__ import annotations

import asyncio
import datetime
import logging
from typing import Any

from pyk8s.api import errors
from pyk8s.client import rest

log = logging.getLogger(__name__)

LEASES = rest.ResourceRef("coordination.k8s.io", "v1", "leases", True, "Lease")
NODES = rest.ResourceRef("", "v1", "nodes", False, "Node")
NAMESPACE = "kube-node-lease"


def micro_now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def new_lease(node: dict[str, Any], duration: int) -> dict[str, Any]:
    meta = node["metadata"]
    return {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {
            "name": meta["name"],
            "namespace": NAMESPACE,
            "ownerReferences": [
                {"apiVersion": "v1", "kind": "Node", "name": meta["name"], "uid": meta["uid"]}
            ],
        },
        "spec": {
            "holderIdentity": meta["name"],
            "leaseDurationSeconds": duration,
            "renewTime": micro_now(),
        },
    }


class LeaseController:
    def __init__(
        self, client: rest.Interface, node_name: str, duration: int, interval: float
    ) -> None:
        self.client = client
        self.node_name = node_name
        self.duration = duration
        self.interval = interval
        self.renewed = 0

    async def sync(self) -> None:
        """Renew the lease once (creating it, owned by the Node, if missing)."""
        try:
            lease = await self.client.get(LEASES, self.node_name, NAMESPACE)
        except errors.NotFound:
            node = await self.client.get(NODES, self.node_name)
            await self.client.create(LEASES, new_lease(node, self.duration), NAMESPACE)
            self.renewed += 1
            return
        lease["spec"]["renewTime"] = micro_now()
        lease["spec"]["holderIdentity"] = self.node_name
        lease["spec"]["leaseDurationSeconds"] = self.duration
        await self.client.update(LEASES, lease, NAMESPACE)
        self.renewed += 1

    async def run(self) -> None:
        while True:
            try:
                await self.sync()
            except (errors.ApiError, OSError) as e:
                log.warning("failed to renew the node lease: %s", e)
                await asyncio.sleep(min(self.interval, 1.0))
                continue
            await asyncio.sleep(self.interval)
