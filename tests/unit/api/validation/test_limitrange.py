# ruff: noqa: E501
"""Table tests of LimitRange validation (``ValidateLimitRange``): upstream's paths and messages."""

from __future__ import annotations

from typing import Any

import pytest

from pyk8s.api import validation


def lr(*limits: dict[str, Any]) -> dict[str, Any]:
    return {"metadata": {"name": "l"}, "spec": {"limits": list(limits)}}


CASES = [
    ("valid", lr({"type": "Container", "min": {"cpu": "100m"}, "max": {"cpu": 2}, "default": {"cpu": "1"},
                  "defaultRequest": {"cpu": "0.5"}, "maxLimitRequestRatio": {"cpu": "4"}},
                 {"type": "PersistentVolumeClaim", "max": {"storage": "10Gi"}},
                 {"type": "example.com/widget", "max": {"example.com/thing": "1"}}), []),
    ("type-not-standard", lr({"type": "Node"}),
     ['spec.limits[0].type: Invalid value: "Node": must be a standard limit type or fully qualified']),
    ("duplicate-type", lr({"type": "Pod"}, {"type": "Pod"}), ['spec.limits[1].type: Duplicate value: "Pod"']),
    ("container-resource", lr({"type": "Container", "max": {"pods": "1", "example.com/gpu": "1"}}),
     ['spec.limits[0].max[pods]: Invalid value: "pods": must be a standard resource for containers']),
    ("resource-name", lr({"type": "example.com/x", "max": {"bogus": "1"}}),
     ['spec.limits[0].max[bogus]: Invalid value: "bogus": must be a standard resource type or fully qualified']),
    ("pvc-needs-storage", lr({"type": "PersistentVolumeClaim", "max": {"cpu": "1"}}),
     ["spec.limits[0].limits: Required value: either minimum or maximum storage value is required, but neither was provided"]),
    ("pod-defaults", lr({"type": "Pod", "default": {"cpu": "1"}, "defaultRequest": {"cpu": "1"}}),
     ["spec.limits[0].default: Forbidden: may not be specified when `type` is 'Pod'",
      "spec.limits[0].defaultRequest: Forbidden: may not be specified when `type` is 'Pod'"]),
    ("orderings", lr({"type": "Container", "min": {"memory": "2Gi"}, "max": {"memory": "1024Mi"},
                      "default": {"memory": "1536Mi"}, "defaultRequest": {"memory": "3Gi"}}),
     ["spec.limits[0].min[memory]: Invalid value: 2Gi: min value 2Gi is greater than max value 1Gi",
      "spec.limits[0].defaultRequest[memory]: Invalid value: 3Gi: default request value 3Gi is greater than max value 1Gi",
      "spec.limits[0].defaultRequest[memory]: Invalid value: 3Gi: default request value 3Gi is greater than default limit value 1536Mi",
      "spec.limits[0].default[memory]: Invalid value: 2Gi: min value 2Gi is greater than default value 1536Mi",
      "spec.limits[0].default[memory]: Invalid value: 1Gi: default value 1536Mi is greater than max value 1Gi"]),
    ("min-over-default-request", lr({"type": "Container", "min": {"cpu": "1"}, "defaultRequest": {"cpu": "0.5"}}),
     ["spec.limits[0].defaultRequest[cpu]: Invalid value: 500m: min value 1 is greater than default request value 500m"]),
    ("ratios", lr({"type": "Container", "min": {"cpu": "1"}, "max": {"cpu": "2"}, "maxLimitRequestRatio": {"cpu": "3"}},
                  {"type": "Pod", "maxLimitRequestRatio": {"memory": "0.5"}}),
     ["spec.limits[0].maxLimitRequestRatio[cpu]: Invalid value: 3: ratio 3 is greater than max/min = 2.000000",
      "spec.limits[1].maxLimitRequestRatio[memory]: Invalid value: 500m: ratio 500m is less than 1"]),
    ("no-overcommit", lr({"type": "Container", "default": {"example.com/gpu": "2"}, "defaultRequest": {"example.com/gpu": "1"}}),
     ["spec.limits[0].defaultRequest[example.com/gpu]: Invalid value: 1: default value 2 must equal to defaultRequest value 1 in example.com/gpu"]),
]  # fmt: skip


@pytest.mark.parametrize(("obj", "want"), [pytest.param(o, w, id=i) for i, o, w in CASES])
def test_limit_range(obj: dict[str, Any], want: list[str]) -> None:
    assert [e.full() for e in validation.validate("", "LimitRange", obj)] == want
