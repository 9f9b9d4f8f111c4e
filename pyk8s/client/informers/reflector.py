"""The reflector: keep a local store equal to a resource on the server.

Mirrors k8s.io/client-go/tools/cache/reflector.go (``ListAndWatch``, ``list``,
``watch``, ``watchHandler``, ``relistResourceVersion``) and the pager it lists
with (``tools/pager``). The loop:

1. List in pages (``limit``/``continue``) at ``resourceVersion="0"`` the first
   time (any cached state will do), at the last seen version afterwards, or at
   ``""`` (a fresh read) once that version is known to be gone. The store is
   replaced with the result. An expired ``continue`` token restarts the list
   without paging.
2. Watch from the list's resourceVersion with ``allowWatchBookmarks=true`` and a
   random timeout in [5, 10) minutes, applying each event to the store and
   remembering its resourceVersion (bookmarks only move that version). When the
   server ends the watch normally, watch again from there.
3. ``410 Gone`` (``Expired``) or any other failure ends the round: wait on an
   exponential backoff (0.8 s doubling to 30 s, jittered) and list again.
   Refused connections and ``429`` on a watch back off and re-watch without a
   relist.
"""

from __future__ import annotations

import builtins
import contextlib
import logging
import random
from collections.abc import Mapping
from typing import Any, Protocol

import aiohttp

from pyk8s.api import errors
from pyk8s.client import backoff as backoff_
from pyk8s.client import clock as clock_
from pyk8s.client.informers import listwatch

log = logging.getLogger(__name__)

Object = Mapping[str, Any]

MIN_WATCH_TIMEOUT = 300
"""Watches ask the server to end them after a random time in [this, 2 x this) seconds."""

SHORT_WATCH = 1.0
"""A watch that ends within this many seconds with no events is treated as a failure."""


class ReflectorStore(Protocol):
    """What the reflector writes into (a cache ``Store`` or an informer)."""

    def replace(self, objs: list[Object], resource_version: str) -> None: ...
    def add(self, obj: Object) -> Any: ...
    def update(self, obj: Object) -> Any: ...
    def delete(self, obj: Object) -> Any: ...


class Reflector:
    def __init__(
        self,
        lw: listwatch.ListerWatcher,
        store: ReflectorStore,
        *,
        name: str = "",
        page_size: int = 500,
        clock: clock_.Clock | None = None,
        backoff: backoff_.Backoff | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.lw = lw
        self.store = store
        self.name = name or type(store).__name__
        self.page_size = page_size
        self.clock: clock_.Clock = clock or clock_.RealClock()
        self.backoff = backoff or backoff_.Backoff(clock=self.clock)
        self.rng = rng or random.Random()
        self.last_sync_resource_version = ""
        self._version_unavailable = False
        self.lists = 0
        """How many complete lists this reflector has done (for tests and metrics)."""

    async def run(self) -> None:
        """List and watch until cancelled, backing off between rounds."""
        while True:
            try:
                await self.list_and_watch()
            except errors.Gone as e:
                log.info("%s: watch closed: %s; relisting", self.name, e)
            except errors.ApiError as e:
                log.warning("%s: %s (%s); retrying", self.name, e, e.reason or e.code)
            except (aiohttp.ClientError, OSError, TimeoutError) as e:
                log.warning("%s: cannot reach the API server: %s", self.name, e or type(e).__name__)
            await self.backoff.sleep()

    async def list_and_watch(self) -> None:
        """One round: a full list, then watches until one fails."""
        await self.list()
        await self.watch()

    def relist_resource_version(self) -> str:
        if self._version_unavailable:
            return ""  # the last version is gone: ask for a fresh, consistent read
        return self.last_sync_resource_version or "0"

    async def list(self) -> None:
        rv = self.relist_resource_version()
        try:
            items, list_rv = await self._list_pages(rv)
        except errors.Gone:
            # The version we asked for is too old for the server (or its cache): read fresh.
            self._version_unavailable = True
            items, list_rv = await self._list_pages(self.relist_resource_version())
        self._version_unavailable = False
        self.store.replace(items, list_rv)
        self.last_sync_resource_version = list_rv
        self.lists += 1

    async def _list_pages(self, rv: str) -> tuple[builtins.list[Object], str]:
        """The whole list (pager.go): pages while the server hands out continue tokens."""
        items: builtins.list[Object] = []
        token: str | None = None
        # A list at a specific version can come from the server's watch cache, but only
        # unpaged (reflector.go): page only fresh ("") and any-version ("0") lists.
        limit = (self.page_size or None) if rv in ("", "0") else None
        while True:
            try:
                page = await self.lw.list(
                    resource_version=None if token else rv,
                    limit=limit,
                    continue_=token,
                )
            except errors.Gone:
                if token is None:
                    raise
                # The continue token expired mid-list: list everything in one go.
                page = await self.lw.list(resource_version=rv, limit=None, continue_=None)
                return list(page.get("items") or []), _rv(page)
            items.extend(page.get("items") or [])
            token = (page.get("metadata") or {}).get("continue") or None
            if not token:
                return items, _rv(page)

    async def watch(self) -> None:
        """Watch from the last synced version until a watch fails (that ends the round)."""
        while True:
            timeout = int(MIN_WATCH_TIMEOUT * (1.0 + self.rng.random()))
            start = self.clock.now()
            count = 0
            try:
                events = self.lw.watch(
                    resource_version=self.last_sync_resource_version,
                    timeout_seconds=timeout,
                    allow_bookmarks=True,
                )
                async with contextlib.aclosing(events):
                    async for event in events:
                        self._apply(event.type, event.object)
                        count += 1
            except (aiohttp.ClientConnectorError, errors.TooManyRequests) as e:
                if count:
                    raise
                log.info("%s: watch refused (%s); backing off", self.name, e)
                await self.backoff.sleep()
                continue
            except (aiohttp.ClientPayloadError, aiohttp.ServerDisconnectedError, TimeoutError):
                # The connection broke mid-stream: like a normal close, watch again.
                log.info("%s: watch connection lost; watching again", self.name)
            if count == 0 and self.clock.now() - start < SHORT_WATCH:
                raise errors.ApiError(
                    "very short watch: the server ended the watch at once with no events",
                    code=500,
                    reason="InternalError",
                )

    def _apply(self, kind: str, obj: Object) -> None:
        rv = (obj.get("metadata") or {}).get("resourceVersion") or ""
        if kind == "ADDED":
            self.store.add(obj)
        elif kind == "MODIFIED":
            self.store.update(obj)
        elif kind == "DELETED":
            self.store.delete(obj)
        # BOOKMARK: nothing changed; only the version moves.
        if rv:
            self.last_sync_resource_version = rv
            bookmark = getattr(self.store, "update_resource_version", None)
            if bookmark is not None:
                bookmark(rv)


def _rv(page: Mapping[str, Any]) -> str:
    return str((page.get("metadata") or {}).get("resourceVersion") or "")
