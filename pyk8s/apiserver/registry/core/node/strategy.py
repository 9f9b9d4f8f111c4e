"""Node strategy: a Node may be created with its status.

Mirrors ``pkg/registry/core/node/strategy.go`` (``nodeStrategy.PrepareForCreate``
keeps every field, status included, since the kubelet registers its node with
capacity, allocatable and addresses in one create; ``PrepareForUpdate`` keeps
the old status, which has its own endpoint).
"""

from __future__ import annotations

import copy

from pyk8s.apiserver.registry.generic.strategy import Obj, Strategy


class NodeStrategy(Strategy):
    def prepare_for_create(self, obj: Obj) -> None:
        status = copy.deepcopy(obj.get("status"))
        super().prepare_for_create(obj)
        if status is not None:
            obj["status"] = status
