"""A shared informer: one reflector and one cache per resource, many event handlers.

Mirrors k8s.io/client-go/tools/cache/shared_informer.go (``sharedIndexInformer``,
``AddEventHandler``, ``HasSynced``, per-handler resync) and the parts of
``delta_fifo.go``/``controller.go`` that decide which notification a change
becomes (``processDeltas``, ``Replaced`` with an unchanged resourceVersion is a
sync, objects missing from a relist are deleted with a
``DeletedFinalStateUnknown`` tombstone).

There is no DeltaFIFO: on one event loop the reflector can update the cache and
notify handlers in the same step, in order. Handlers are therefore called
synchronously and must be quick; they should only map the object to keys and
put them on a work queue (never call the API). An exception in a handler is
logged and does not reach the informer or other handlers.

Objects handed to handlers are the cache's read-only objects: copy before
changing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from pyk8s.client import clock as clock_
from pyk8s.client.cache import frozen, listers
from pyk8s.client.cache import index as index_
from pyk8s.client.cache import store as store_
from pyk8s.client.informers import listwatch
from pyk8s.client.informers import reflector as reflector_

log = logging.getLogger(__name__)

Object = Mapping[str, Any]


Transform = Callable[[Object], Object]
"""Applied to every object before it enters the cache (client-go ``TransformFunc``)."""


def strip_managed_fields(obj: Object) -> Object:
    """Drop ``metadata.managedFields``: controllers never read them and they are a large
    share of every object (what kube-controller-manager's informers do, ``TrimManagedFields``)."""
    meta = obj.get("metadata")
    if not isinstance(meta, Mapping) or "managedFields" not in meta:
        return obj
    return {**obj, "metadata": {k: v for k, v in meta.items() if k != "managedFields"}}


async def wait_for_cache_sync(
    *informers: SharedIndexInformer, timeout: float | None = None
) -> bool:
    """Wait until every informer has synced; False if ``timeout`` ran out first
    (client-go ``cache.WaitForCacheSync``)."""
    try:
        async with asyncio.timeout(timeout):
            await asyncio.gather(*(inf.wait_for_sync() for inf in informers))
    except TimeoutError:
        return False
    return True


class ResourceEventHandler(Protocol):
    """What an informer calls on changes (client-go ``ResourceEventHandler``)."""

    def on_add(self, obj: Object, is_in_initial_list: bool) -> None: ...
    def on_update(self, old: Object, new: Object) -> None:
        """Also called on a resync, with ``old is new``."""
        ...

    def on_delete(self, obj: Object | store_.DeletedFinalStateUnknown) -> None: ...


@dataclass
class EventHandlerFuncs:
    """A handler made of optional functions (client-go ``ResourceEventHandlerFuncs``)."""

    add: Callable[[Object], None] | None = None
    update: Callable[[Object, Object], None] | None = None
    delete: Callable[[Object | store_.DeletedFinalStateUnknown], None] | None = None

    def on_add(self, obj: Object, is_in_initial_list: bool) -> None:
        if self.add is not None:
            self.add(obj)

    def on_update(self, old: Object, new: Object) -> None:
        if self.update is not None:
            self.update(old, new)

    def on_delete(self, obj: Object | store_.DeletedFinalStateUnknown) -> None:
        if self.delete is not None:
            self.delete(obj)


class Registration:
    """The handle ``add_event_handler`` returns; ``has_synced`` once the initial list reached it."""

    def __init__(self, handler: ResourceEventHandler, resync_period: float) -> None:
        self.handler = handler
        self.resync_period = resync_period
        self._synced = False
        self._timer: clock_.Timer | None = None

    def has_synced(self) -> bool:
        return self._synced


class SharedIndexInformer:
    def __init__(
        self,
        lw: listwatch.ListerWatcher,
        *,
        resync_period: float = 0.0,
        indexers: index_.Indexers | None = None,
        clock: clock_.Clock | None = None,
        name: str = "",
        page_size: int = 500,
        transform: Transform | None = None,
    ) -> None:
        self.clock: clock_.Clock = clock or clock_.RealClock()
        self.transform = transform
        self.default_resync_period = resync_period
        self.store = store_.Store(
            indexers=indexers
            if indexers is not None
            else {index_.NAMESPACE: index_.namespace_index_func}
        )
        self.name = name
        self.reflector = reflector_.Reflector(
            lw, self, name=name, page_size=page_size, clock=self.clock
        )
        self._registrations: list[Registration] = []
        self._synced = asyncio.Event()
        self._running = False

    # -- handlers -------------------------------------------------------------------

    def add_event_handler(
        self, handler: ResourceEventHandler, resync_period: float | None = None
    ) -> Registration:
        """Register ``handler``; if the cache is filled already it gets every object as an add."""
        reg = Registration(
            handler, self.default_resync_period if resync_period is None else resync_period
        )
        self._registrations.append(reg)
        if self._synced.is_set():
            for obj in self.store.list():
                self._call(reg, "on_add", obj, True)
            self._mark_synced(reg)
        return reg

    def remove_event_handler(self, reg: Registration) -> None:
        with contextlib.suppress(ValueError):
            self._registrations.remove(reg)
        if reg._timer is not None:
            reg._timer.cancel()
            reg._timer = None

    def add_indexers(self, indexers: index_.Indexers) -> None:
        self.store.add_indexers(indexers)

    # -- state ------------------------------------------------------------------------

    def has_synced(self) -> bool:
        """True once the first list is in the cache and was handed to the handlers."""
        return self._synced.is_set()

    async def wait_for_sync(self) -> None:
        await self._synced.wait()

    @property
    def last_sync_resource_version(self) -> str:
        return self.reflector.last_sync_resource_version

    def lister(self, resource: str, group: str = "") -> listers.Lister:
        return listers.Lister(self.store, resource, group)

    async def run(self) -> None:
        """Fill the cache and keep it current until cancelled."""
        if self._running:
            raise RuntimeError(f"informer {self.name!r} is already running")
        self._running = True
        try:
            await self.reflector.run()
        finally:
            self._running = False
            for reg in self._registrations:
                if reg._timer is not None:
                    reg._timer.cancel()
                    reg._timer = None

    # -- what the reflector calls (ReflectorStore) --------------------------------------

    def replace(self, objs: list[Object], resource_version: str) -> None:
        initial = not self._synced.is_set()
        fresh: dict[str, Object] = {}
        for obj in objs:
            stored: Object = frozen.freeze(self._transform(obj))
            fresh[self.store.key_func(stored)] = stored
        for key, old in self.store.items():
            if key not in fresh:
                self.store.delete_key(key)
                self._notify("on_delete", store_.DeletedFinalStateUnknown(key, old))
        for key, obj in fresh.items():
            old_obj = self.store.get_by_key(key)
            self.store.add(obj)
            if old_obj is None:
                self._notify("on_add", obj, initial)
            elif _rv(old_obj) != _rv(obj):
                self._notify("on_update", old_obj, obj)
            # An unchanged object on a relist is a sync: nobody is told (processDeltas).
        self.store.resource_version = resource_version
        if initial:
            self._synced.set()
            for reg in self._registrations:
                self._mark_synced(reg)

    def add(self, obj: Object) -> None:
        obj = self._transform(obj)
        old = self.store.get(obj)
        new = self.store.add(obj)
        if old is None:
            self._notify("on_add", new, False)
        else:
            self._notify("on_update", old, new)

    update = add

    def delete(self, obj: Object) -> None:
        obj = self._transform(obj)
        self.store.delete(obj)
        self._notify("on_delete", frozen.freeze(obj))

    def _transform(self, obj: Object) -> Object:
        return obj if self.transform is None else self.transform(obj)

    def update_resource_version(self, resource_version: str) -> None:
        self.store.resource_version = resource_version

    # -- notification -----------------------------------------------------------------

    def _notify(self, method: str, *args: Any) -> None:
        for reg in list(self._registrations):
            self._call(reg, method, *args)

    def _call(self, reg: Registration, method: str, *args: Any) -> None:
        try:
            getattr(reg.handler, method)(*args)
        except Exception:
            log.exception("informer %s: event handler %s failed", self.name, method)

    def _mark_synced(self, reg: Registration) -> None:
        reg._synced = True
        self._schedule_resync(reg)

    def _schedule_resync(self, reg: Registration) -> None:
        if reg.resync_period <= 0 or reg not in self._registrations:
            return

        def fire() -> None:
            reg._timer = None
            if reg not in self._registrations:
                return
            for obj in self.store.list():
                self._call(reg, "on_update", obj, obj)
            self._schedule_resync(reg)

        reg._timer = self.clock.call_later(reg.resync_period, fire)


def _rv(obj: Object) -> str:
    return str((obj.get("metadata") or {}).get("resourceVersion") or "")
