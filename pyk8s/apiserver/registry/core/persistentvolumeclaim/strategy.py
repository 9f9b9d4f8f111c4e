"""PersistentVolumeClaim strategy: a new claim is Pending.

Mirrors ``pkg/registry/core/persistentvolumeclaim/strategy.go`` (``PrepareForCreate``
clears the status) with ``SetDefaults_PersistentVolumeClaim``, which gives an empty phase
``Pending`` whenever the object is decoded: what ``kubectl get pvc`` shows until the claim
is bound.
"""

from __future__ import annotations

from typing import Any

from pyk8s.apiserver.registry.generic.strategy import Obj, Strategy


class PersistentVolumeClaimStrategy(Strategy):
    def initial_status(self, obj: Obj) -> Any:
        return {"phase": "Pending"}

    def prepare_for_create(self, obj: Obj) -> None:
        super().prepare_for_create(obj)
        obj["status"] = self.initial_status(obj)
