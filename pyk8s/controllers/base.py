"""The controller skeleton every controller of the controller-manager is built on.

Mirrors the common shape of ``pkg/controller/replicaset/replica_set.go``
(``Run``, ``worker``, ``processNextWorkItem``) and the rules of
``contributors/devel/sig-api-machinery/controllers.md``: informer event handlers
only map an event to keys and enqueue them; workers take a key from a
rate-limited work queue (one worker per key at a time) and call
:meth:`Controller.reconcile`. A reconcile that raises is retried with per-key
backoff; one that returns is forgotten. Workers start once every informer the
controller reads has synced.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from pyk8s.api import errors
from pyk8s.client import clock as clock_
from pyk8s.client import workqueue
from pyk8s.client.cache import store
from pyk8s.client.informers import shared_informer

log = logging.getLogger(__name__)

Object = Mapping[str, Any]

MAX_RETRIES_LOGGED = 15
"""After this many retries of one key, failures are logged at debug level only."""


class Controller:
    """A workqueue of keys and the workers draining it into :meth:`reconcile`."""

    name = "controller"
    workers = 2

    def __init__(self, clock: clock_.Clock | None = None) -> None:
        self.clock: clock_.Clock = clock or clock_.RealClock()
        self.queue: workqueue.RateLimitingQueue[str] = workqueue.RateLimitingQueue(clock=self.clock)
        self._synced: list[Callable[[], bool]] = []
        self._waiters: list[shared_informer.SharedIndexInformer] = []

    # -- wiring ------------------------------------------------------------------------

    def watch(
        self,
        informer: shared_informer.SharedIndexInformer,
        *,
        add: Callable[[Object], None] | None = None,
        update: Callable[[Object, Object], None] | None = None,
        delete: Callable[[Object], None] | None = None,
    ) -> None:
        """Register handlers on ``informer`` and wait for it before working.

        ``delete`` gets the last known object (tombstones are unwrapped).
        """

        def on_delete(obj: Object | store.DeletedFinalStateUnknown) -> None:
            if delete is not None:
                delete(obj.obj if isinstance(obj, store.DeletedFinalStateUnknown) else obj)

        reg = informer.add_event_handler(
            shared_informer.EventHandlerFuncs(add=add, update=update, delete=on_delete)
        )
        self._synced.append(reg.has_synced)
        self._waiters.append(informer)

    def enqueue(self, obj: Object) -> None:
        self.queue.add(store.meta_namespace_key(obj))

    def enqueue_after(self, obj: Object, delay: float) -> None:
        self.queue.add_after(store.meta_namespace_key(obj), delay)

    # -- running -----------------------------------------------------------------------

    def has_synced(self) -> bool:
        return all(synced() for synced in self._synced)

    async def wait_for_sync(self) -> None:
        # The informer marks its registrations synced in the same step as itself.
        await asyncio.gather(*(inf.wait_for_sync() for inf in self._waiters))

    async def run(self, workers: int | None = None) -> None:
        """Wait for the caches, then process keys with ``workers`` workers until cancelled."""
        await self.wait_for_sync()
        log.info("controller %s: caches synced, starting %s workers", self.name, workers)
        try:
            async with asyncio.TaskGroup() as tg:
                for i in range(workers or self.workers):
                    tg.create_task(self._worker(), name=f"{self.name} worker {i}")
        finally:
            self.queue.shut_down()

    async def _worker(self) -> None:
        while await self.process_next_item():
            pass

    async def process_next_item(self) -> bool:
        """Reconcile one key; False once the queue is shut down."""
        try:
            key = await self.queue.get()
        except workqueue.QueueShutDown:
            return False
        try:
            await self.reconcile(key)
        except asyncio.CancelledError:
            raise
        except Exception as e:
            retries = self.queue.num_requeues(key)
            level = logging.DEBUG if retries >= MAX_RETRIES_LOGGED else logging.WARNING
            if isinstance(e, errors.Conflict):
                level = logging.DEBUG  # a stale cache; the retry will see the new version
            log.log(
                level,
                "controller %s: reconciling %s failed (retry %d): %s",
                self.name,
                key,
                retries,
                e,
                exc_info=level >= logging.WARNING and not isinstance(e, errors.ApiError),
            )
            self.queue.add_rate_limited(key)
        else:
            self.queue.forget(key)
        finally:
            self.queue.done(key)
        return True

    async def reconcile(self, key: str) -> None:
        """Bring the object named ``key`` to its desired state; raise to be retried."""
        raise NotImplementedError


def keys(objs: Iterable[Object]) -> list[str]:
    return [store.meta_namespace_key(o) for o in objs]
