# ruff: noqa: E501
"""Table tests of HorizontalPodAutoscaler (autoscaling/v2) metrics: ``validateMetricSpec``."""

from __future__ import annotations

from typing import Any

import pytest

from pyk8s.api import validation

M = "spec.metrics[0]"
TYPES = 'supported values: "ContainerResource", "External", "Object", "Pods", "Resource"'


def hpa(*metrics: dict[str, Any]) -> dict[str, Any]:
    return {"metadata": {"name": "h"}, "spec": {"minReplicas": 1, "maxReplicas": 3,
            "scaleTargetRef": {"kind": "Deployment", "name": "web"}, "metrics": list(metrics)}}  # fmt: skip


CPU = {
    "type": "Resource",
    "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 50}},
}

CASES = [
    ("valid", hpa(CPU,
                  {"type": "Pods", "pods": {"metric": {"name": "qps"}, "target": {"type": "AverageValue", "averageValue": "1k"}}},
                  {"type": "Object", "object": {"describedObject": {"kind": "Service", "name": "web"},
                                                "metric": {"name": "hits"}, "target": {"type": "Value", "value": "10"}}},
                  {"type": "External", "external": {"metric": {"name": "queue"}, "target": {"type": "Value", "value": 5}}},
                  {"type": "ContainerResource", "containerResource": {"name": "memory", "container": "app",
                                                                      "target": {"type": "AverageValue", "averageValue": "100Mi"}}}), []),
    ("no-type", hpa({}),
     [f"{M}.type: Required value: must specify a metric source type",
      f'{M}.type: Unsupported value: "": {TYPES}', f'{M}.type: Unsupported value: "": {TYPES}']),
    ("source-missing", hpa({"type": "Pods"}),
     [f"{M}.pods: Required value: must populate information for the given metric source"]),
    ("two-sources", hpa({**CPU, "pods": {"metric": {"name": "qps"}, "target": {"type": "AverageValue", "averageValue": "1"}}}),
     [f"{M}.pods: Forbidden: must populate the given metric source only"]),
    ("resource-targets", hpa({"type": "Resource", "resource": {"name": "pods", "target": {"type": "Ratio"}}}),
     [f'{M}.resource.name: Invalid value: "pods": must be a standard resource for containers',
      f'{M}.resource.target.type: Invalid value: "Ratio": must be either Utilization, Value, or AverageValue',
      f"{M}.resource.target.averageUtilization: Required value: must set either a target raw value or a target utilization"]),
    ("resource-both", hpa({"type": "Resource", "resource": {"name": "cpu", "target": {
        "type": "Utilization", "averageUtilization": 0, "averageValue": "-0.5"}}}),
     [f"{M}.resource.target.averageValue: Invalid value: -500m: must be positive",
      f"{M}.resource.target.averageUtilization: Invalid value: 0: must be greater than 0",
      f"{M}.resource.target.averageValue: Forbidden: may not set both a target raw value and a target utilization"]),
    ("pods-target", hpa({"type": "Pods", "pods": {"metric": {}, "target": {"type": "Value", "value": "1"}}}),
     [f"{M}.pods.metric.name: Required value: must specify a metric name",
      f"{M}.pods.target.averageValue: Required value: must specify a positive target averageValue"]),
    ("object-target", hpa({"type": "Object", "object": {"describedObject": {"kind": "Service"}, "metric": {"name": "a/b"},
                                                        "target": {"type": "Value"}}}),
     [f"{M}.object.describedObject.name: Required value",
      f"{M}.object.metric.name: Invalid value: \"a/b\": may not contain '/'",
      f"{M}.object.target.averageValue: Required value: must set either a target value or averageValue"]),
    ("external-both", hpa({"type": "External", "external": {"metric": {"name": "q"},
                                                            "target": {"type": "Value", "value": "1", "averageValue": "2"}}}),
     [f"{M}.external.target.value: Forbidden: may not set both a target value for metric and a per-pod target"]),
    ("container-resource", hpa({"type": "ContainerResource", "containerResource": {"name": "cpu", "container": "App_1",
                                                                                   "target": {"type": "Utilization", "averageUtilization": 80}}}),
     [f'{M}.containerResource.container: Invalid value: "App_1": a lowercase RFC 1123 label must consist of lower case '
      "alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or "
      "'123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"]),
]  # fmt: skip


@pytest.mark.parametrize(("obj", "want"), [pytest.param(o, w, id=i) for i, o, w in CASES])
def test_metrics(obj: dict[str, Any], want: list[str]) -> None:
    assert [
        e.full() for e in validation.validate("autoscaling", "HorizontalPodAutoscaler", obj)
    ] == want
