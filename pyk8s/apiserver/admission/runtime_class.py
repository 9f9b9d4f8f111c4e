"""The RuntimeClass admission plugin: a pod takes its RuntimeClass's overhead and scheduling.

Mirrors ``plugin/pkg/admission/runtimeclass/admission.go``. On pod create, a pod naming
``spec.runtimeClassName`` gets the class's ``overhead.podFixed`` as ``spec.overhead``
(which the scheduler adds to the pod's requests), the class's
``scheduling.nodeSelector`` merged into its own (a different value for the same key
is refused) and the class's ``scheduling.tolerations`` added. Refused with upstream's
403: a class that does not exist, an overhead that differs from the class's, and an
overhead without a class that defines one.
"""

from __future__ import annotations

from typing import Any

import orjson

from pyk8s.api import errors, scheme
from pyk8s.api.resource import parse_quantity
from pyk8s.apiserver.registry.generic.strategy import Obj
from pyk8s.storage import interface as storage

RUNTIME_CLASSES = "/registry/runtimeclasses/"


def _same_resources(a: Any, b: Any) -> bool:
    """``apiequality.Semantic.DeepEqual`` of two resource lists: quantities by value."""
    if not isinstance(a, dict) or not isinstance(b, dict) or a.keys() != b.keys():
        return False
    try:
        return all(parse_quantity(a[k]) == parse_quantity(b[k]) for k in a)
    except (ValueError, TypeError):
        return a == b


class RuntimeClass:
    mutating = True
    """It changes the object: what it adds is tracked by no field manager."""

    def __init__(self, backend: storage.Interface, resource: scheme.Resource) -> None:
        self.storage = backend
        self.resource = resource

    def _forbidden(self, obj: Obj, why: str) -> errors.Forbidden:
        name = (obj.get("metadata") or {}).get("name", "")
        return errors.Forbidden.for_object(
            self.resource.plural, self.resource.group, name, why, None
        )

    async def __call__(self, operation: str, obj: Obj, old: Obj | None) -> None:
        if operation != "CREATE" or (self.resource.group, self.resource.plural) != ("", "pods"):
            return
        spec = obj.get("spec")
        if not isinstance(spec, dict):
            return
        rc: dict[str, Any] | None = None
        name = spec.get("runtimeClassName")
        if name:
            try:
                kv = await self.storage.get(RUNTIME_CLASSES + str(name))
            except storage.KeyNotFoundError:
                raise self._forbidden(
                    obj, f'pod rejected: RuntimeClass "{name}" not found'
                ) from None
            rc = orjson.loads(kv.value)
        overhead = (rc or {}).get("overhead") or {}
        fixed = overhead.get("podFixed") if isinstance(overhead, dict) else None
        if rc is not None and fixed is not None:
            if spec.get("overhead") and not _same_resources(fixed, spec["overhead"]):
                raise self._forbidden(
                    obj,
                    "pod rejected: Pod's Overhead doesn't match RuntimeClass's defined Overhead",
                )
            spec["overhead"] = dict(fixed)
        elif spec.get("overhead"):
            raise self._forbidden(
                obj,
                "pod rejected: Pod Overhead set without corresponding RuntimeClass defined "
                "Overhead",
            )
        scheduling = (rc or {}).get("scheduling")
        if isinstance(scheduling, dict):
            _merge_scheduling(self, obj, spec, scheduling)


def _merge_scheduling(plugin: RuntimeClass, obj: Obj, spec: dict[str, Any], sched: Obj) -> None:
    selector = dict(spec.get("nodeSelector") or {})
    for key, value in (sched.get("nodeSelector") or {}).items():
        if key in selector and selector[key] != value:
            raise plugin._forbidden(
                obj,
                f"conflict: runtimeClass.scheduling.nodeSelector[{key}] = {value}; "
                f"pod.spec.nodeSelector[{key}] = {selector[key]}",
            )
        selector[key] = value
    if selector:
        spec["nodeSelector"] = selector
    tolerations = list(spec.get("tolerations") or [])
    for t in sched.get("tolerations") or []:
        if t not in tolerations:
            tolerations.append(t)
    if tolerations:
        spec["tolerations"] = tolerations
