"""Namespace strategy: phase Active, the ``kubernetes`` finalizer, the name label.

Mirrors ``pkg/registry/core/namespace/strategy.go`` (``PrepareForCreate`` adds
``spec.finalizers: [kubernetes]`` and ``status.phase: Active``; names are DNS
labels; the ``kubernetes.io/metadata.name`` label always equals the name) and
``namespaceFinalizeStrategy`` for ``/finalize``.
"""

from __future__ import annotations

import copy
from typing import Any

from pyk8s.api import meta
from pyk8s.api.errors import FieldError
from pyk8s.apiserver.registry.generic.strategy import Obj, StatusStrategy, Strategy

NAME_LABEL = "kubernetes.io/metadata.name"
FINALIZER = "kubernetes"


def _label(obj: Obj) -> None:
    md = meta.metadata(obj)
    labels = md.get("labels") or {}
    labels[NAME_LABEL] = md.get("name", "")
    md["labels"] = labels


class NamespaceStrategy(Strategy):
    name_validator = staticmethod(meta.dns1123_label)

    def initial_status(self, obj: Obj) -> Any:
        return {"phase": "Active"}

    def prepare_for_create(self, obj: Obj) -> None:
        super().prepare_for_create(obj)
        obj["status"] = {"phase": "Active"}
        spec = obj.get("spec") or {}
        finalizers = list(spec.get("finalizers") or [])
        if FINALIZER not in finalizers:
            finalizers.append(FINALIZER)
        obj["spec"] = {**spec, "finalizers": finalizers}
        obj["metadata"].pop("generation", None)

    def prepare_for_update(self, obj: Obj, old: Obj) -> None:
        obj["spec"] = copy.deepcopy(old.get("spec") or {})
        obj["status"] = copy.deepcopy(old.get("status") or {})
        obj["metadata"].pop("generation", None)

    def canonicalize(self, obj: Obj) -> None:
        if meta.metadata(obj).get("name"):
            _label(obj)

    def validate(self, obj: Obj) -> list[FieldError]:
        return super().validate(obj)


class NamespaceStatusStrategy(StatusStrategy):
    pass


class NamespaceFinalizeStrategy(Strategy):
    """``/finalize``: only ``spec.finalizers`` changes."""

    def prepare_for_update(self, obj: Obj, old: Obj) -> None:
        finalizers = (obj.get("spec") or {}).get("finalizers")
        keep = copy.deepcopy(old)
        rv = (obj.get("metadata") or {}).get("resourceVersion")
        obj.clear()
        obj.update(keep)
        obj.setdefault("spec", {})["finalizers"] = finalizers or []
        if rv:
            obj["metadata"]["resourceVersion"] = rv

    def validate_update(self, obj: Obj, old: Obj) -> list[FieldError]:
        return []
