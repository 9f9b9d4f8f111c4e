"""Two controller-managers on one cluster: only the Lease holder runs controllers."""

from __future__ import annotations

import asyncio
import contextlib

from pyk8s.client import rest
from pyk8s.controllers import manager
from pyk8s.controllers.config import ControllerManagerConfig
from pyk8s.controllers.resources import LEASES


async def test_only_the_leader_runs(client: rest.Client) -> None:
    config = ControllerManagerConfig(
        controllers=["serviceaccount"], lease_duration=3.0, renew_deadline=2.0, retry_period=0.2
    )
    ready_a, ready_b = asyncio.Event(), asyncio.Event()
    a = asyncio.create_task(manager.run(config, client, ready_a, identity="a"))
    b: asyncio.Task[None] | None = None
    try:
        await asyncio.wait_for(ready_a.wait(), 30)
        b = asyncio.create_task(manager.run(config, client, ready_b, identity="b"))
        await asyncio.sleep(2.0)
        assert not ready_b.is_set(), "a second manager ran controllers while the lease was held"
        lease = await client.get(LEASES, "kube-controller-manager", "kube-system")
        assert lease["spec"]["holderIdentity"] == "a"
        a.cancel()  # releases the lease on the way out
        with contextlib.suppress(asyncio.CancelledError):
            await a
        await asyncio.wait_for(ready_b.wait(), 30)
        lease = await client.get(LEASES, "kube-controller-manager", "kube-system")
        assert lease["spec"]["holderIdentity"] == "b"
    finally:
        for task in (a, b):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
