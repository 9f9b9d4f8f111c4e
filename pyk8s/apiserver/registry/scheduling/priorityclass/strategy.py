"""PriorityClass strategy: defaults, reserved names, the user-definable range.

Mirrors ``pkg/registry/scheduling/priorityclass/strategy.go``,
``pkg/apis/scheduling/v1/defaults.go`` (``preemptionPolicy`` defaults to
``PreemptLowerPriority``) and ``pkg/apis/scheduling/validation/validation.go``
(names starting ``system-`` are the built-in classes only, with their values;
other classes at most 1,000,000,000; ``value`` and ``preemptionPolicy`` are
immutable).
"""

from __future__ import annotations

from pyk8s.api import errors
from pyk8s.apiserver.registry.generic.strategy import Obj, Strategy

SYSTEM_PREFIX = "system-"
SYSTEM_CLASSES = {"system-node-critical": 2000001000, "system-cluster-critical": 2000000000}
HIGHEST_USER_DEFINABLE_PRIORITY = 1000000000
POLICIES = ["Never", "PreemptLowerPriority"]


class PriorityClassStrategy(Strategy):
    def prepare_for_create(self, obj: Obj) -> None:
        super().prepare_for_create(obj)
        obj.setdefault("preemptionPolicy", "PreemptLowerPriority")

    def prepare_for_update(self, obj: Obj, old: Obj) -> None:
        super().prepare_for_update(obj, old)
        if obj.get("preemptionPolicy") is None and "preemptionPolicy" in old:
            obj["preemptionPolicy"] = old["preemptionPolicy"]

    def validate(self, obj: Obj) -> list[errors.FieldError]:
        errs = super().validate(obj)
        name = (obj.get("metadata") or {}).get("name", "")
        value = obj.get("value", 0)
        if isinstance(value, bool) or not isinstance(value, int):
            errs.append(errors.invalid_value("value", value, "must be an integer"))
            return errs
        if name.startswith(SYSTEM_PREFIX):
            why = ""
            if name not in SYSTEM_CLASSES:
                why = f"{name} is not a known system priority class"
            elif value != SYSTEM_CLASSES[name]:
                why = f"value of {name} PriorityClass must be {SYSTEM_CLASSES[name]}"
            if why:
                errs.append(
                    errors.forbidden(
                        "metadata.name",
                        f"priority class names with '{SYSTEM_PREFIX}' prefix are reserved for "
                        f"system use only. error: {why}",
                    )
                )
        elif value > HIGHEST_USER_DEFINABLE_PRIORITY:
            errs.append(
                errors.forbidden(
                    "value",
                    "maximum allowed value of a user defined priority is "
                    f"{HIGHEST_USER_DEFINABLE_PRIORITY}",
                )
            )
        policy = obj.get("preemptionPolicy")
        if policy is not None and policy not in POLICIES:
            errs.append(errors.not_supported("preemptionPolicy", policy, POLICIES))
        return errs

    def validate_update(self, obj: Obj, old: Obj) -> list[errors.FieldError]:
        errs = super().validate_update(obj, old)
        for key in ("value", "preemptionPolicy"):
            if obj.get(key) != old.get(key):
                errs.append(
                    errors.forbidden(key, "may not be changed in an update.")
                    if key == "value"
                    else errors.invalid_value(key, obj.get(key), "field is immutable")
                )
        return errs
