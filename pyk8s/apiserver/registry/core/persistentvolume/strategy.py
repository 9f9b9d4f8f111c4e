"""PersistentVolume strategy: a new volume is Pending.

Mirrors ``pkg/registry/core/persistentvolume/strategy.go`` (``PrepareForCreate`` clears the
status, then, LastPhaseTransitionTime being GA, stamps the transition to Pending) with
``SetDefaults_PersistentVolume``, which gives an empty phase ``Pending`` whenever
the object is decoded: what every client reads before the volume controller makes it
Available. ``persistentvolumeStatusStrategy.PrepareForUpdate``: a status update that
changes the phase stamps ``lastPhaseTransitionTime`` unless the writer set a new one.
"""

from __future__ import annotations

from typing import Any

from pyk8s.api import meta
from pyk8s.apiserver.registry.generic.strategy import Obj, StatusStrategy, Strategy


class PersistentVolumeStrategy(Strategy):
    def initial_status(self, obj: Obj) -> Any:
        return {"phase": "Pending"}

    def prepare_for_create(self, obj: Obj) -> None:
        super().prepare_for_create(obj)
        obj["status"] = {**self.initial_status(obj), "lastPhaseTransitionTime": meta.now()}


class PersistentVolumeStatusStrategy(StatusStrategy):
    def prepare_for_update(self, obj: Obj, old: Obj) -> None:
        super().prepare_for_update(obj, old)
        new_status = obj.get("status")
        old_status = old.get("status") or {}
        if not isinstance(new_status, dict) or new_status.get("phase") == old_status.get("phase"):
            return
        stamp = new_status.get("lastPhaseTransitionTime")
        if not stamp or stamp == old_status.get("lastPhaseTransitionTime"):
            new_status["lastPhaseTransitionTime"] = meta.now()
