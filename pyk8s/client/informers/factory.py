"""SharedInformerFactory: one informer (one watch, one cache) per resource per process.

Mirrors k8s.io/client-go/informers/factory.go (``sharedInformerFactory``:
``InformerFor`` memoizes by type, ``Start`` starts the informers not yet
started, ``WaitForCacheSync``, ``Shutdown``) with the dynamic factory's keying
by resource (``dynamicinformer``). Every controller of a controller-manager asks
the same factory, so ten controllers watching pods cost one watch.

Use as an async context manager; leaving it stops every informer::

    async with factory.SharedInformerFactory(client) as informers:
        pods = informers.for_resource(PODS)
        pods.add_event_handler(...)
        informers.start()
        await informers.wait_for_cache_sync()
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from pyk8s.client import clock as clock_
from pyk8s.client import rest
from pyk8s.client.cache import listers
from pyk8s.client.informers import listwatch, shared_informer

log = logging.getLogger(__name__)

Key = tuple[rest.ResourceRef, str | None, str | None, str | None]


class SharedInformerFactory:
    def __init__(
        self,
        client: rest.Interface,
        *,
        resync_period: float = 0.0,
        namespace: str | None = None,
        clock: clock_.Clock | None = None,
        page_size: int = 500,
        transform: shared_informer.Transform | None = None,
    ) -> None:
        self.client = client
        self.transform = transform
        self.resync_period = resync_period
        self.namespace = namespace
        self.clock: clock_.Clock = clock or clock_.RealClock()
        self.page_size = page_size
        self._informers: dict[Key, shared_informer.SharedIndexInformer] = {}
        self._tasks: dict[Key, asyncio.Task[None]] = {}
        self._shut_down = False

    def for_resource(
        self,
        ref: rest.ResourceRef,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
        resync_period: float | None = None,
    ) -> shared_informer.SharedIndexInformer:
        """The informer for ``ref`` (and these selectors), created on first request."""
        key: Key = (ref, self.namespace if ref.namespaced else None, label_selector, field_selector)
        informer = self._informers.get(key)
        if informer is None:
            lw = listwatch.ListWatch(
                self.client,
                ref,
                key[1],
                label_selector=label_selector,
                field_selector=field_selector,
            )
            informer = shared_informer.SharedIndexInformer(
                lw,
                resync_period=self.resync_period if resync_period is None else resync_period,
                clock=self.clock,
                name=ref.qualified,
                page_size=self.page_size,
                transform=self.transform,
            )
            self._informers[key] = informer
        return informer

    def lister(self, ref: rest.ResourceRef) -> listers.Lister:
        return self.for_resource(ref).lister(ref.plural, ref.group)

    def start(self) -> None:
        """Start every informer requested so far that is not running yet."""
        if self._shut_down:
            raise RuntimeError("the informer factory was shut down")
        for key, informer in self._informers.items():
            if key not in self._tasks:
                task = asyncio.create_task(informer.run(), name=f"informer {informer.name}")
                task.add_done_callback(self._task_done)
                self._tasks[key] = task

    def _task_done(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            log.error("informer task %s died", task.get_name(), exc_info=task.exception())

    async def wait_for_cache_sync(
        self, timeout: float | None = None
    ) -> dict[rest.ResourceRef, bool]:
        """Wait until every started informer has synced (or ``timeout``); who synced."""
        started = [self._informers[k] for k in self._tasks]
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await asyncio.gather(*(inf.wait_for_sync() for inf in started))
        return {key[0]: self._informers[key].has_synced() for key in self._tasks}

    async def shutdown(self) -> None:
        """Stop every informer and wait for them to finish."""
        self._shut_down = True
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def __aenter__(self) -> SharedInformerFactory:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.shutdown()
