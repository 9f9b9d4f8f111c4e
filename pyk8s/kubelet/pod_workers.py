"""One serialized worker per pod UID.

Mirrors ``pkg/kubelet/pod_workers.go`` (``UpdatePod``: the newest update replaces a pending
one; one goroutine per UID runs ``SyncPod`` / ``SyncTerminatingPod`` / ``SyncTerminatedPod``
in turn) and kopf ``_core/reactor/queueing.py`` (per-uid queues, workers retired when done).
The sync function returns when it wants to run again; :meth:`PodWorkers.wake` (PLEG, probes)
brings that forward.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

log = logging.getLogger(__name__)

Obj = dict[str, Any]
SyncFn = Callable[[Obj, bool], Awaitable[float | None]]
"""``sync(pod, removed)`` → seconds until the next sync, or None to retire the worker."""

RETRY = 2.0


class _Worker:
    def __init__(self, pod: Obj, removed: bool) -> None:
        self.pod = pod
        self.removed = removed
        self.wake = asyncio.Event()
        self.wake.set()
        self.task: asyncio.Task[None] | None = None


class PodWorkers:
    def __init__(self, sync: SyncFn, resync: float) -> None:
        self.sync = sync
        self.resync = resync
        self._workers: dict[str, _Worker] = {}

    def update(self, pod: Obj, removed: bool = False) -> None:
        """A new version of the pod (``removed``: gone from the API)."""
        uid = pod["metadata"]["uid"]
        w = self._workers.get(uid)
        if w is None:
            w = _Worker(pod, removed)
            self._workers[uid] = w
            w.task = asyncio.create_task(self._run(uid, w), name=f"pod worker {uid}")
            return
        w.pod = pod
        w.removed = w.removed or removed
        w.wake.set()

    def wake(self, uid: str) -> None:
        w = self._workers.get(uid)
        if w is not None:
            w.wake.set()

    def known(self, uid: str) -> bool:
        return uid in self._workers

    def pod(self, uid: str) -> Obj | None:
        w = self._workers.get(uid)
        return w.pod if w is not None else None

    async def _run(self, uid: str, w: _Worker) -> None:
        try:
            while True:
                w.wake.clear()
                try:
                    delay = await self.sync(w.pod, w.removed)
                except Exception:
                    log.exception("sync of pod %s failed", w.pod["metadata"].get("name"))
                    delay = RETRY
                if delay is None and w.removed and not w.wake.is_set():
                    return
                timeout = self.resync if delay is None else min(delay, self.resync)
                try:
                    async with asyncio.timeout(timeout):
                        await w.wake.wait()
                except TimeoutError:
                    pass
        finally:
            if self._workers.get(uid) is w:
                del self._workers[uid]

    async def close(self) -> None:
        tasks = [w.task for w in self._workers.values() if w.task is not None]
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
