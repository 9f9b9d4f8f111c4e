"""The namespace controller: namespaces being deleted are emptied, then finalized.

Mirrors ``pkg/controller/namespace/namespace_controller.go`` (``enqueueNamespace``
only for namespaces with a ``deletionTimestamp``; ``syncNamespaceFromKey``; a
``ResourcesRemainingError`` becomes ``AddAfter(estimate)`` instead of a failure).
"""

from __future__ import annotations

from pyk8s.controllers import base, resources
from pyk8s.controllers import manager as manager_
from pyk8s.controllers.namespace import deleter as deleter_
from pyk8s.controllers.resources import NAMESPACES


class NamespaceController(base.Controller):
    name = "namespace-controller"
    workers = 5

    def __init__(self, ctx: manager_.ControllerContext) -> None:
        super().__init__(ctx.clock)
        self.deleter = deleter_.NamespacedResourcesDeleter(
            ctx.client, resources.namespaced_deletable(), ctx.clock
        )
        self.watch(
            ctx.informers.for_resource(NAMESPACES, resync_period=300.0),
            add=self._maybe_enqueue,
            update=lambda old, new: self._maybe_enqueue(new),
        )

    def _maybe_enqueue(self, ns: base.Object) -> None:
        if ns["metadata"].get("deletionTimestamp"):
            self.enqueue(ns)

    async def reconcile(self, key: str) -> None:
        try:
            await self.deleter.delete(key)
        except deleter_.ContentRemaining as e:
            self.queue.add_after(key, e.estimate)


def new(ctx: manager_.ControllerContext) -> NamespaceController:
    return NamespaceController(ctx)
