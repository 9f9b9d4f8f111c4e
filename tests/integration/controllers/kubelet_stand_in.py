"""A stand-in for a kubelet in tests without one: marks pods Running and Ready.

It patches ``pods/status`` as a kubelet would once containers start; nothing runs.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from pyk8s.api import errors, meta
from pyk8s.client import rest
from pyk8s.controllers.resources import PODS


async def mark_ready_forever(client: rest.Client, namespace: str) -> None:
    done: set[str] = set()
    while True:
        listing = await client.list(PODS, namespace)
        for pod in listing["items"]:
            uid = pod["metadata"]["uid"]
            if uid in done or pod["metadata"].get("deletionTimestamp"):
                continue
            now = meta.now()
            status = {
                "status": {
                    "phase": "Running",
                    "conditions": [
                        {"type": "Ready", "status": "True", "lastTransitionTime": now},
                        {"type": "ContainersReady", "status": "True", "lastTransitionTime": now},
                    ],
                }
            }
            with contextlib.suppress(errors.NotFound, errors.Conflict):
                await client.patch(
                    PODS, pod["metadata"]["name"], status, namespace, subresource="status"
                )
                done.add(uid)
        await asyncio.sleep(0.1)


@contextlib.asynccontextmanager
async def ready_pods(client: rest.Client, namespace: str = "default") -> AsyncIterator[None]:
    task = asyncio.create_task(mark_ready_forever(client, namespace))
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
