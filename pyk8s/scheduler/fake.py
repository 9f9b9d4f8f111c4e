"""In-memory fakes for the scheduler's seams: binder, pod deleter, status updater,
event recorder and listers. They record what they were asked to do, so unit tests
can schedule pods without an API server (convention 15: fakes ship with the package).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pyk8s.scheduler.framework.runtime import Seams
from pyk8s.scheduler.framework.types import Obj, meta


@dataclass
class RecordedEvent:
    object: str
    type: str
    reason: str
    action: str
    message: str


class FakeBinder:
    def __init__(self, error: Exception | None = None) -> None:
        self.bindings: list[Obj] = []
        self.error = error
        self._changed = asyncio.Condition()

    async def bind(self, binding: Obj) -> None:
        if self.error is not None:
            raise self.error
        self.bindings.append(binding)
        async with self._changed:
            self._changed.notify_all()

    async def wait_for(self, count: int) -> None:
        """Wait until ``count`` bindings were made (no sleeping)."""
        async with self._changed:
            await self._changed.wait_for(lambda: len(self.bindings) >= count)

    def bound(self) -> dict[str, str]:
        """namespace/name → node for every binding made."""
        return {
            f"{meta(b).get('namespace', '')}/{meta(b).get('name', '')}": b["target"]["name"]
            for b in self.bindings
        }


class FakePodDeleter:
    def __init__(self) -> None:
        self.deleted: list[tuple[str, str, str]] = []

    async def delete_pod(self, namespace: str, name: str, uid: str) -> None:
        self.deleted.append((namespace, name, uid))


@dataclass
class StatusUpdate:
    pod: str
    condition: Obj | None
    nominated_node_name: str | None


class FakeStatusUpdater:
    def __init__(self) -> None:
        self.updates: list[StatusUpdate] = []

    async def update_pod_status(
        self, pod: Obj, condition: Obj | None, nominated_node_name: str | None
    ) -> None:
        m = meta(pod)
        self.updates.append(
            StatusUpdate(
                f"{m.get('namespace', '')}/{m.get('name', '')}", condition, nominated_node_name
            )
        )


class FakeRecorder:
    def __init__(self) -> None:
        self.events: list[RecordedEvent] = []

    def event(self, obj: Obj, event_type: str, reason: str, action: str, message: str) -> None:
        m = meta(obj)
        self.events.append(
            RecordedEvent(
                f"{m.get('namespace', '')}/{m.get('name', '')}", event_type, reason, action, message
            )
        )

    def messages(self, reason: str) -> list[str]:
        return [e.message for e in self.events if e.reason == reason]


class StaticLister:
    """A lister over a fixed list of objects."""

    def __init__(self, objects: Iterable[Obj] = ()) -> None:
        self.objects = list(objects)

    def list(self, namespace: str | None = None) -> list[Obj]:
        if namespace is None:
            return list(self.objects)
        return [o for o in self.objects if meta(o).get("namespace", "") == namespace]

    def get(self, namespace: str, name: str) -> Obj | None:
        for o in self.objects:
            m = meta(o)
            if m.get("name") == name and m.get("namespace", "") == namespace:
                return o
        return None


@dataclass
class FakeSeams:
    """All the fakes together, and the Seams built from them."""

    binder: FakeBinder = field(default_factory=FakeBinder)
    deleter: FakePodDeleter = field(default_factory=FakePodDeleter)
    updater: FakeStatusUpdater = field(default_factory=FakeStatusUpdater)
    recorder: FakeRecorder = field(default_factory=FakeRecorder)
    listers: dict[str, StaticLister] = field(default_factory=dict)

    def seams(self) -> Seams:
        listers: Mapping[str, Any] = self.listers
        return Seams(
            binder=self.binder,
            pod_deleter=self.deleter,
            status_updater=self.updater,
            recorder=self.recorder,
            listers=listers,
        )
