"""Semantic validation of coordination.k8s.io/v1 Leases.

Mirrors ``pkg/apis/coordination/validation/validation.go`` (``ValidateLeaseSpec``):
the duration is positive, the transition count is not negative, and a preferred
holder needs a strategy.
"""

from __future__ import annotations

from typing import Any

from pyk8s.api.errors import FieldError, forbidden, invalid_value, not_supported

Obj = dict[str, Any]

STRATEGIES = ["OldestEmulationVersion"]


def lease(obj: Obj) -> list[FieldError]:
    spec = obj.get("spec")
    spec = spec if isinstance(spec, dict) else {}
    errs: list[FieldError] = []
    duration = spec.get("leaseDurationSeconds")
    if isinstance(duration, int) and duration <= 0:
        errs.append(invalid_value("spec.leaseDurationSeconds", duration, "must be greater than 0"))
    transitions = spec.get("leaseTransitions")
    if isinstance(transitions, int) and transitions < 0:
        errs.append(
            invalid_value(
                "spec.leaseTransitions", transitions, "must be greater than or equal to 0"
            )
        )
    strategy = spec.get("strategy")
    if strategy is not None and strategy not in STRATEGIES:
        errs.append(not_supported("spec.strategy", strategy, STRATEGIES))
    if spec.get("preferredHolder") and strategy is None:
        errs.append(forbidden("spec.preferredHolder", "may only be specified if `strategy` is defined"))  # noqa: E501  # fmt: skip
    return errs
