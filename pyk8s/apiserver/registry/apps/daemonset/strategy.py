"""DaemonSet strategy: the template generation.

Mirrors ``pkg/registry/apps/daemonset/strategy.go`` (``PrepareForCreate`` starts
``spec.templateGeneration`` at 1, ``PrepareForUpdate`` adds one when the pod template
changes) and ``pkg/apis/apps/v1/conversion.go``, which carries that internal field in
apps/v1 as the annotation ``deprecated.daemonset.template.generation``. The DaemonSet
controller labels its pods with it (``pod-template-generation``).
"""

from __future__ import annotations

from pyk8s.apiserver.registry.generic.strategy import Obj, Strategy

TEMPLATE_GENERATION = "deprecated.daemonset.template.generation"


def _template_generation(obj: Obj) -> int | None:
    value = ((obj.get("metadata") or {}).get("annotations") or {}).get(TEMPLATE_GENERATION)
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _set(obj: Obj, generation: int) -> None:
    md = obj.setdefault("metadata", {})
    annotations = md.get("annotations") or {}
    md["annotations"] = {**annotations, TEMPLATE_GENERATION: str(generation)}


class DaemonSetStrategy(Strategy):
    def prepare_for_create(self, obj: Obj) -> None:
        super().prepare_for_create(obj)
        given = _template_generation(obj)
        _set(obj, given if given is not None and given >= 1 else 1)

    def prepare_for_update(self, obj: Obj, old: Obj) -> None:
        super().prepare_for_update(obj, old)
        previous = _template_generation(old) or 0
        if (obj.get("spec") or {}).get("template") != (old.get("spec") or {}).get("template"):
            _set(obj, previous + 1)
            return
        given = _template_generation(obj)
        _set(obj, given if given is not None else previous)
