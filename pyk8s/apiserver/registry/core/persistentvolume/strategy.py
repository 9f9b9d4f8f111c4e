"""PersistentVolume strategy: a new volume is Pending.

Mirrors ``pkg/registry/core/persistentvolume/strategy.go`` (``PrepareForCreate`` clears the
status, then, LastPhaseTransitionTime being GA, stamps the transition to Pending) with
``SetDefaults_PersistentVolume``, which gives an empty phase ``Pending`` whenever
the object is decoded: what every client reads before the volume controller makes it
Available.
"""

from __future__ import annotations

from typing import Any

from pyk8s.api import meta
from pyk8s.apiserver.registry.generic.strategy import Obj, Strategy


class PersistentVolumeStrategy(Strategy):
    def initial_status(self, obj: Obj) -> Any:
        return {"phase": "Pending"}

    def prepare_for_create(self, obj: Obj) -> None:
        super().prepare_for_create(obj)
        obj["status"] = {**self.initial_status(obj), "lastPhaseTransitionTime": meta.now()}
