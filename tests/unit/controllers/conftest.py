"""A controller on the fake client: seed objects, sync the informers, call reconcile once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar

import pytest

from pyk8s.client import clock, fake
from pyk8s.client.informers import factory
from pyk8s.controllers import base, manager
from pyk8s.controllers.config import ControllerManagerConfig

C = TypeVar("C", bound=base.Controller)


class Harness:
    def __init__(self) -> None:
        self.client = fake.Client()
        self.clock = clock.RealClock()
        self.config = ControllerManagerConfig(leader_elect=False)
        self.informers = factory.SharedInformerFactory(self.client)
        self.ctx: manager.ControllerContext | None = None

    async def start(self, constructor: Callable[[manager.ControllerContext], C]) -> C:
        """Construct the controller, start and sync its informers (cache = what was seeded)."""
        self.ctx = manager.ControllerContext(
            self.client, self.informers, self.config, self.clock, root_ca=b"CA-PEM"
        )
        ctl = constructor(self.ctx)
        self.informers.start()
        await asyncio.wait_for(ctl.wait_for_sync(), 10)
        self.client.clear_actions()
        return ctl

    async def settle(self) -> None:
        """Let watch events reach the caches."""
        for _ in range(20):
            await asyncio.sleep(0)
        await asyncio.sleep(0.05)

    def writes(self) -> list[fake.Action]:
        return [a for a in self.client.actions if a.verb not in ("get", "list", "watch")]

    def verbs(self) -> list[tuple[str, str]]:
        return [(a.verb, a.resource.plural) for a in self.writes()]


@pytest.fixture
async def harness() -> AsyncIterator[Harness]:
    h = Harness()
    try:
        yield h
    finally:
        await h.informers.shutdown()


def obj(kind: str, name: str, namespace: str | None = "default", **fields: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if namespace:
        meta["namespace"] = namespace
    meta.update(fields.pop("metadata", {}))
    return {"kind": kind, "metadata": meta, **fields}
