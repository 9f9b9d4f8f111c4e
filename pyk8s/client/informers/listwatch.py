"""What a reflector lists and watches: one resource, optionally one namespace and selectors.

Mirrors k8s.io/client-go/tools/cache/listwatch.go (``ListerWatcher``,
``NewFilteredListWatchFromClient``). :class:`ListWatch` binds a client (the
REST client or the fake) to a resource; tests may pass any object with the same
two methods.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any, Protocol

from pyk8s.client import rest


class ListerWatcher(Protocol):
    async def list(
        self, *, resource_version: str | None, limit: int | None, continue_: str | None
    ) -> dict[str, Any]:
        """One page of the list; items carry ``apiVersion`` and ``kind``."""
        ...

    def watch(
        self, *, resource_version: str, timeout_seconds: int, allow_bookmarks: bool
    ) -> AsyncGenerator[rest.WatchEvent, None]:
        """Changes after ``resource_version``; ``ERROR`` frames are raised as errors."""
        ...


class ListWatch:
    def __init__(
        self,
        client: rest.Interface,
        ref: rest.ResourceRef,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> None:
        self.client = client
        self.ref = ref
        self.namespace = namespace
        self.label_selector = label_selector
        self.field_selector = field_selector

    async def list(
        self, *, resource_version: str | None, limit: int | None, continue_: str | None
    ) -> dict[str, Any]:
        result = await self.client.list(
            self.ref,
            self.namespace,
            label_selector=self.label_selector,
            field_selector=self.field_selector,
            limit=limit,
            continue_=continue_,
            resource_version=resource_version,
        )
        # List items come without apiVersion/kind; restore them as the dynamic client does.
        kind = self.ref.kind or str(result.get("kind", "")).removesuffix("List")
        for item in result.get("items") or []:
            item.setdefault("apiVersion", self.ref.api_version)
            if kind:
                item.setdefault("kind", kind)
        return result

    def watch(
        self, *, resource_version: str, timeout_seconds: int, allow_bookmarks: bool
    ) -> AsyncGenerator[rest.WatchEvent, None]:
        return self.client.watch(
            self.ref,
            self.namespace,
            resource_version=resource_version,
            timeout_seconds=timeout_seconds,
            allow_bookmarks=allow_bookmarks,
            label_selector=self.label_selector,
            field_selector=self.field_selector,
        )
