"""``events.k8s.io/v1`` Events: the core Event store seen through conversion.

Upstream serves both Event APIs from one storage (core v1 is the storage
version; ``pkg/registry/core/event``); reads and writes of the
``events.k8s.io`` form convert on the way (``pkg/apis/events/v1/conversion.go``).
"""

from __future__ import annotations

import builtins
import dataclasses
from collections.abc import AsyncIterator
from typing import Any

from pyk8s.api import errors, scheme, selectors
from pyk8s.api.conversion import events as conversion
from pyk8s.apiserver.registry.generic import store as generic
from pyk8s.apiserver.registry.generic.strategy import Obj

_CORE_FIELD = {
    "regarding.kind": "involvedObject.kind",
    "regarding.namespace": "involvedObject.namespace",
    "regarding.name": "involvedObject.name",
    "regarding.uid": "involvedObject.uid",
    "regarding.apiVersion": "involvedObject.apiVersion",
    "regarding.resourceVersion": "involvedObject.resourceVersion",
    "regarding.fieldPath": "involvedObject.fieldPath",
    "reportingController": "reportingComponent",
}
"""``AddFieldLabelConversionsForEvent``: this version's field labels as the core Event's
field set (what the shared storage selects on) names them."""


def _to_core(opts: generic.ListOptions) -> generic.ListOptions:
    reqs = opts.field_selector.requirements
    if not any(r.field in _CORE_FIELD for r in reqs):
        return opts
    renamed = tuple(
        selectors.FieldRequirement(_CORE_FIELD.get(r.field, r.field), r.op, r.value) for r in reqs
    )
    return dataclasses.replace(opts, field_selector=selectors.FieldSelector(renamed))


class EventsV1Store(generic.Store):
    def __init__(self, resource: scheme.Resource, core: generic.Store) -> None:
        super().__init__(resource, core.storage, core.strategy, admit=core.admit)
        self.core = core

    def _out(self, obj: Obj) -> Obj:
        return conversion.from_core(obj)

    def _in(self, body: Any) -> Obj:
        if not isinstance(body, dict):
            raise errors.BadRequest("the body of the request must be a JSON object")
        self._check_body_type(body)
        return conversion.to_core(body)

    def _list_out(self, listing: Obj) -> Obj:
        items: builtins.list[Obj] = []
        for i in listing["items"]:
            converted = self._out(i)
            converted.pop("apiVersion", None)
            converted.pop("kind", None)
            items.append(converted)
        return {**listing, "apiVersion": self.resource.api_version, "items": items}

    async def get(self, namespace: str, name: str, *, resource_version: str = "") -> Obj:
        return self._out(await self.core.get(namespace, name, resource_version=resource_version))

    async def get_json(self, namespace: str, name: str) -> bytes | None:
        return None  # stored objects are core Events: convert

    async def list_json(self, namespace: str, opts: generic.ListOptions) -> bytes | None:
        return None  # stored objects are core Events: convert item by item

    async def list(self, namespace: str, opts: generic.ListOptions, *, shared: bool = False) -> Obj:
        return self._list_out(await self.core.list(namespace, _to_core(opts)))

    async def create(self, namespace: str, body: Any, opts: generic.WriteOptions) -> Obj:
        return self._out(await self.core.create(namespace, self._in(body), opts))

    async def update(
        self,
        namespace: str,
        name: str,
        body: Any,
        opts: generic.WriteOptions,
        *,
        strategy: Any = None,
    ) -> tuple[Obj, bool]:
        obj, created = await self.core.update(namespace, name, self._in(body), opts)
        return self._out(obj), created

    async def delete(
        self, namespace: str, name: str, opts: generic.DeleteOptions
    ) -> tuple[Obj, bool]:
        obj, now = await self.core.delete(namespace, name, opts)
        return self._out(obj), now

    async def delete_collection(
        self, namespace: str, list_opts: generic.ListOptions, opts: generic.DeleteOptions
    ) -> Obj:
        return self._list_out(
            await self.core.delete_collection(namespace, _to_core(list_opts), opts)
        )

    def check_field_selector(self, sel: Any) -> None:
        # this version's labels (regarding.*, reportingController), not the core ones
        generic.Store.check_field_selector(self, sel)

    async def watch(
        self, namespace: str, opts: generic.ListOptions, *, send_initial: bool | None = None
    ) -> AsyncIterator[generic.WatchEvent]:
        async for ev in self.core.watch(namespace, _to_core(opts), send_initial=send_initial):
            if ev.type in ("ADDED", "MODIFIED", "DELETED"):
                yield generic.WatchEvent(ev.type, self._out(ev.object), ev.revision)
            else:
                yield ev
