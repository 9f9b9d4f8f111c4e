"""The Priority admission plugin: a pod's priority comes from its PriorityClass.

Mirrors ``plugin/pkg/admission/priority/admission.go``. On pod create,
``spec.priorityClassName`` is resolved (403 ``no PriorityClass with name X was
found`` when missing); without a name, the global default class (the lowest
value if several) names it, else priority 0 and ``PreemptLowerPriority``.
``spec.priority`` and ``spec.preemptionPolicy`` are set from the class; a client
that set them differently gets upstream's 403. On pod update they are kept
from the old pod when the new body omits them. On PriorityClass create or
update, a second ``globalDefault`` class is refused.
"""

from __future__ import annotations

from typing import Any

import orjson

from pyk8s.api import errors, scheme
from pyk8s.apiserver.registry.generic.strategy import Obj
from pyk8s.storage import interface as storage

PRIORITY_CLASSES = "/registry/priorityclasses/"
PREEMPT_LOWER_PRIORITY = "PreemptLowerPriority"
DEFAULT_PRIORITY = 0


class Priority:
    mutating = True
    """It changes the object: what it adds is tracked by no field manager."""

    def __init__(self, backend: storage.Interface, resource: scheme.Resource) -> None:
        self.storage = backend
        self.resource = resource
        self._decoded: dict[str, tuple[int, dict[str, Any]]] = {}
        """PriorityClasses decoded before, by key, with their revision (read-only)."""

    async def __call__(self, operation: str, obj: Obj, old: Obj | None) -> None:
        which = (self.resource.group, self.resource.plural)
        if which == ("", "pods"):
            if operation == "CREATE":
                await self._admit_new_pod(obj)
            elif operation == "UPDATE" and old is not None:
                _keep_priority(obj, old)
        elif which == ("scheduling.k8s.io", "priorityclasses") and operation in (
            "CREATE",
            "UPDATE",
        ):
            await self._validate_class(obj)

    async def _classes(self) -> list[dict[str, Any]]:
        res = await self.storage.list(PRIORITY_CLASSES)
        out: list[dict[str, Any]] = []
        for kv in res.items:
            hit = self._decoded.get(kv.key)
            if hit is None or hit[0] != kv.mod_revision:
                hit = (kv.mod_revision, orjson.loads(kv.value))
                self._decoded[kv.key] = hit
            out.append(hit[1])
        if len(self._decoded) > len(out):  # some were deleted
            keep = {kv.key for kv in res.items}
            self._decoded = {k: v for k, v in self._decoded.items() if k in keep}
        return out

    async def _default_class(self) -> dict[str, Any] | None:
        found: dict[str, Any] | None = None
        for pc in await self._classes():
            if pc.get("globalDefault") and (
                found is None or int(pc.get("value") or 0) < int(found.get("value") or 0)
            ):
                found = pc
        return found

    def _forbidden(self, obj: Obj, why: str) -> errors.Forbidden:
        name = (obj.get("metadata") or {}).get("name", "")
        return errors.Forbidden.for_object(
            self.resource.plural, self.resource.group, name, why, None
        )

    async def _admit_new_pod(self, pod: Obj) -> None:
        spec = pod.setdefault("spec", {})
        class_name = spec.get("priorityClassName") or ""
        policy: str | None
        if not class_name:
            default = await self._default_class()
            if default is None:
                priority, policy = DEFAULT_PRIORITY, PREEMPT_LOWER_PRIORITY
            else:
                spec["priorityClassName"] = default["metadata"]["name"]
                priority = int(default.get("value") or 0)
                policy = default.get("preemptionPolicy")
        else:
            try:
                kv = await self.storage.get(PRIORITY_CLASSES + class_name)
            except storage.KeyNotFoundError:
                raise self._forbidden(
                    pod, f"no PriorityClass with name {class_name} was found"
                ) from None
            pc = orjson.loads(kv.value)
            priority = int(pc.get("value") or 0)
            policy = pc.get("preemptionPolicy")
        given = spec.get("priority")
        if given is not None and given != priority:
            raise self._forbidden(
                pod,
                f"the integer value of priority ({given}) must not be provided in pod spec; "
                f"priority admission controller computed {priority} from the given "
                "PriorityClass name",
            )
        spec["priority"] = priority
        if policy is not None:
            given_policy = spec.get("preemptionPolicy")
            if given_policy is not None and given_policy != policy:
                raise self._forbidden(
                    pod,
                    f"the string value of PreemptionPolicy ({given_policy}) must not be "
                    f"provided in pod spec; priority admission controller computed {policy} "
                    "from the given PriorityClass name",
                )
            spec["preemptionPolicy"] = policy

    async def _validate_class(self, pc: Obj) -> None:
        if not pc.get("globalDefault"):
            return
        name = (pc.get("metadata") or {}).get("name", "")
        default = await self._default_class()
        if default is not None and default["metadata"]["name"] != name:
            raise self._forbidden(
                pc,
                f"PriorityClass {default['metadata']['name']} is already marked as default. "
                "Only one default can exist",
            )


def _keep_priority(pod: Obj, old: Obj) -> None:
    spec = pod.setdefault("spec", {})
    old_spec = old.get("spec") or {}
    for key in ("priority", "preemptionPolicy"):
        if spec.get(key) is None and old_spec.get(key) is not None:
            spec[key] = old_spec[key]
