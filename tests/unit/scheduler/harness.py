"""A scheduler with the default profile over fake seams, fed like informers would feed it."""

from __future__ import annotations

import random
from collections.abc import Iterable
from typing import Any

from pyk8s.scheduler import config, eventhandlers
from pyk8s.scheduler.fake import FakeSeams
from pyk8s.scheduler.plugins.registry import IN_TREE
from pyk8s.scheduler.scheduler import Scheduler


class Harness:
    def __init__(
        self,
        nodes: Iterable[dict[str, Any]] = (),
        pods: Iterable[dict[str, Any]] = (),
        *,
        cfg: config.KubeSchedulerConfiguration | None = None,
        seed: int = 1,
        clock: Any = None,
    ) -> None:
        self.fakes = FakeSeams()
        self.objects: dict[tuple[str, str], dict[str, Any]] = {}
        frameworks = config.build_frameworks(
            cfg or config.KubeSchedulerConfiguration(), IN_TREE, self.fakes.seams()
        )
        kwargs: dict[str, Any] = {"rand": random.Random(seed), "get_pod": self._get}
        if clock is not None:
            kwargs["clock"] = clock
        self.scheduler = Scheduler(frameworks, **kwargs)
        for n in nodes:
            eventhandlers.on_node_add(self.scheduler, n)
        for p in pods:
            self.add_pod(p)

    def _get(self, namespace: str, name: str) -> dict[str, Any] | None:
        return self.objects.get((namespace, name))

    def add_pod(self, p: dict[str, Any]) -> None:
        self.objects[(p["metadata"]["namespace"], p["metadata"]["name"])] = p
        eventhandlers.on_pod_add(self.scheduler, p)

    async def schedule(self, n: int = 1) -> None:
        """Schedule n pods, then feed the bindings back as pod updates (the informer's part)."""
        for _ in range(n):
            before = len(self.fakes.binder.bindings)
            await self.scheduler.schedule_one_and_bind()
            for b in self.fakes.binder.bindings[before:]:
                key = (b["metadata"]["namespace"], b["metadata"]["name"])
                old = self.objects[key]
                new = {**old, "spec": {**old["spec"], "nodeName": b["target"]["name"]}}
                self.objects[key] = new
                eventhandlers.on_pod_update(self.scheduler, old, new)

    def failed_messages(self) -> list[str]:
        return self.fakes.recorder.messages("FailedScheduling")
