from __future__ import annotations

from pyk8s.api.conversion import autoscaling


def v1(**spec: object) -> dict[str, object]:
    return {
        "apiVersion": "autoscaling/v1",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "h"},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "d"},
            "maxReplicas": 10,
            **spec,
        },
    }


def test_cpu_target_is_a_resource_metric() -> None:
    v2 = autoscaling.to_v2(v1(targetCPUUtilizationPercentage=50))
    assert v2["apiVersion"] == "autoscaling/v2"
    assert v2["spec"]["metrics"] == [
        {
            "type": "Resource",
            "resource": {
                "name": "cpu",
                "target": {"type": "Utilization", "averageUtilization": 50},
            },
        }
    ]
    assert "targetCPUUtilizationPercentage" not in v2["spec"]
    back = autoscaling.from_v2(v2)
    assert back == v1(targetCPUUtilizationPercentage=50)


def test_what_v1_cannot_say_travels_in_annotations() -> None:
    memory = {
        "type": "Resource",
        "resource": {"name": "memory", "target": {"type": "AverageValue", "averageValue": "1Gi"}},
    }
    stored = autoscaling.to_v2(v1(targetCPUUtilizationPercentage=50))
    stored["spec"]["metrics"].append(memory)
    stored["spec"]["behavior"] = {"scaleDown": {"stabilizationWindowSeconds": 300}}
    stored["status"] = {
        "currentReplicas": 2,
        "desiredReplicas": 2,
        "currentMetrics": [
            {"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": 7}}}
        ],
        "conditions": [{"type": "AbleToScale", "status": "True"}],
    }
    seen = autoscaling.from_v2(stored)
    assert seen["spec"]["targetCPUUtilizationPercentage"] == 50
    assert seen["status"]["currentCPUUtilizationPercentage"] == 7
    assert "conditions" not in seen["status"]
    annotations = seen["metadata"]["annotations"]
    assert set(annotations) == {
        autoscaling.METRICS,
        autoscaling.BEHAVIOR,
        autoscaling.CONDITIONS,
    }
    # and an update through v1 loses nothing
    assert autoscaling.to_v2(seen) == stored
