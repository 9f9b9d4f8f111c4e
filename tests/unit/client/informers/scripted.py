"""A ListerWatcher whose answers the test scripts, and a wait helper."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass, field
from typing import Any

from pyk8s.client import rest

END = object()


async def eventually(cond: Callable[[], bool], timeout: float = 15.0) -> None:
    async with asyncio.timeout(timeout):
        while not cond():
            await asyncio.sleep(0.001)


def obj(name: str, rv: int, ns: str = "default", **labels: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": ns, "resourceVersion": str(rv), "labels": labels},
    }


def page(items: list[dict[str, Any]], rv: int, cont: str = "") -> dict[str, Any]:
    meta: dict[str, Any] = {"resourceVersion": str(rv)}
    if cont:
        meta["continue"] = cont
    return {"kind": "PodList", "metadata": meta, "items": items}


@dataclass
class ScriptedLW:
    """``lists``: answers (dicts, or exceptions to raise) in order; the last one repeats.

    Each ``watch`` call takes the next queue from ``watches`` (one is made on demand);
    the test puts ``WatchEvent``s, exceptions (raised) or ``END`` (stream closes) on it.
    """

    lists: list[Any] = field(default_factory=list)
    list_calls: list[dict[str, Any]] = field(default_factory=list)
    watch_calls: list[dict[str, Any]] = field(default_factory=list)
    watches: list[asyncio.Queue[Any]] = field(default_factory=list)
    _next_watch: int = 0

    async def list(
        self, *, resource_version: str | None, limit: int | None, continue_: str | None
    ) -> dict[str, Any]:
        self.list_calls.append(
            {"resource_version": resource_version, "limit": limit, "continue": continue_}
        )
        answer = self.lists.pop(0) if len(self.lists) > 1 else self.lists[0]
        if isinstance(answer, BaseException):
            raise answer
        return answer  # type: ignore[no-any-return]

    def stream(self, i: int) -> asyncio.Queue[Any]:
        while len(self.watches) <= i:
            self.watches.append(asyncio.Queue())
        return self.watches[i]

    def watch(
        self, *, resource_version: str, timeout_seconds: int, allow_bookmarks: bool
    ) -> AsyncGenerator[rest.WatchEvent, None]:
        self.watch_calls.append(
            {
                "resource_version": resource_version,
                "timeout_seconds": timeout_seconds,
                "allow_bookmarks": allow_bookmarks,
            }
        )
        q = self.stream(self._next_watch)
        self._next_watch += 1

        async def events() -> AsyncGenerator[rest.WatchEvent, None]:
            while True:
                item = await q.get()
                if item is END:
                    return
                if isinstance(item, BaseException):
                    raise item
                yield item

        return events()
