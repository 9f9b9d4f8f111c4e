"""Semantic validation of policy/v1 PodDisruptionBudgets.

Mirrors ``pkg/apis/policy/validation/validation.go``
(``ValidatePodDisruptionBudgetSpec``): at most one of ``minAvailable`` and
``maxUnavailable``, each a non-negative integer or a percentage up to 100%, a
valid selector, and the unhealthy-pod eviction policy from its set.
"""

from __future__ import annotations

import re
from typing import Any

from pyk8s.api import selectors
from pyk8s.api.errors import FieldError, Raw, invalid_value, not_supported

Obj = dict[str, Any]

EVICTION_POLICIES = ["AlwaysAllow", "IfHealthyBudget"]
_PERCENT = re.compile(r"^[0-9]+%$")
PERCENT_MSG = (
    "a valid percent string must be a numeric string followed by an ending '%' "
    "(e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')"
)


def int_or_percent(value: Any, path: str) -> list[FieldError]:
    """``ValidatePositiveIntOrPercent`` and ``IsNotMoreThan100Percent``."""
    if value is None:
        return []
    if isinstance(value, str):
        if not _PERCENT.match(value):
            return [invalid_value(path, Raw(value), PERCENT_MSG)]
        if int(value[:-1]) > 100:
            return [invalid_value(path, Raw(value), "must not be greater than 100%")]
        return []
    if isinstance(value, int) and not isinstance(value, bool):
        return [] if value >= 0 else [invalid_value(path, value, "must be greater than or equal to 0")]  # noqa: E501  # fmt: skip
    return [invalid_value(path, value, "must be an integer or percentage (e.g '5%')")]


def pod_disruption_budget(obj: Obj) -> list[FieldError]:
    spec = obj.get("spec")
    spec = spec if isinstance(spec, dict) else {}
    errs: list[FieldError] = []
    if spec.get("minAvailable") is not None and spec.get("maxUnavailable") is not None:
        errs.append(invalid_value("spec", spec, "minAvailable and maxUnavailable cannot be both set"))  # noqa: E501  # fmt: skip
    errs += int_or_percent(spec.get("minAvailable"), "spec.minAvailable")
    errs += int_or_percent(spec.get("maxUnavailable"), "spec.maxUnavailable")
    sel = spec.get("selector")
    if isinstance(sel, dict):
        try:
            selectors.from_label_selector(sel)
        except selectors.SelectorError as e:
            errs.append(invalid_value("spec.selector", sel, str(e)))
    policy = spec.get("unhealthyPodEvictionPolicy")
    if policy is not None and policy not in EVICTION_POLICIES:
        errs.append(not_supported("spec.unhealthyPodEvictionPolicy", policy, EVICTION_POLICIES))
    return errs
