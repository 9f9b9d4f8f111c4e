"""DefaultBinder: binds a pod by POSTing a Binding to ``pods/<name>/binding``.

Mirrors ``plugins/defaultbinder/default_binder.go``; the API call goes through the
handle's :class:`~pyk8s.scheduler.framework.interface.Binder` seam.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pyk8s.scheduler.framework import interface as fw
from pyk8s.scheduler.framework.interface import CycleState, Status
from pyk8s.scheduler.framework.types import Obj, meta

NAME = "DefaultBinder"


def binding_for(pod: Obj, node_name: str) -> dict[str, Any]:
    m = meta(pod)
    return {
        "apiVersion": "v1",
        "kind": "Binding",
        "metadata": {
            "namespace": m.get("namespace", ""),
            "name": m.get("name", ""),
            "uid": m.get("uid", ""),
        },
        "target": {"kind": "Node", "name": node_name},
    }


class DefaultBinder:
    name = NAME

    def __init__(self, handle: fw.Handle) -> None:
        self.handle = handle

    async def bind(self, state: CycleState, pod: Obj, node_name: str) -> Status | None:
        try:
            await self.handle.binder.bind(binding_for(pod, node_name))
        except Exception as e:  # the API's error becomes the binding failure
            return Status.as_status(e)
        return None


def new(args: Mapping[str, Any] | None, handle: fw.Handle) -> DefaultBinder:
    return DefaultBinder(handle)
