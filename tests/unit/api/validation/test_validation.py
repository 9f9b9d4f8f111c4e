from __future__ import annotations

from typing import Any

from pyk8s.api import validation


def deployment(labels: dict[str, str], selector: dict[str, Any] | None) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "replicas": 1,
        "template": {
            "metadata": {"labels": labels},
            "spec": {"containers": [{"name": "c", "image": "nginx"}]},
        },
    }
    if selector is not None:
        spec["selector"] = selector
    return {"metadata": {"name": "d"}, "spec": spec}


def fields(errs: list[Any]) -> list[str]:
    return [e.field for e in errs]


def test_deployment_selector_must_match_template() -> None:
    ok = deployment({"app": "x"}, {"matchLabels": {"app": "x"}})
    assert validation.validate("apps", "Deployment", ok) == []
    bad = deployment({"app": "y"}, {"matchLabels": {"app": "x"}})
    errs = validation.validate("apps", "Deployment", bad)
    assert fields(errs) == ["spec.template.metadata.labels"]
    assert "`selector` does not match template `labels`" in errs[0].message()
    # upstream: a missing selector selects nothing, so it cannot match the template either
    assert fields(validation.validate("apps", "Deployment", deployment({}, None))) == [
        "spec.selector",
        "spec.template.metadata.labels",
    ]
    changed = deployment({"app": "x", "b": "c"}, {"matchLabels": {"b": "c"}})
    errs = validation.validate_update("apps", "Deployment", changed, ok)
    assert fields(errs) == ["spec.selector"]


def test_pod_spec_rules() -> None:
    pod = {
        "spec": {
            "containers": [{"name": "a", "image": "x"}, {"name": "a"}],
            "restartPolicy": "Sometimes",
        }
    }
    assert sorted(fields(validation.validate("", "Pod", pod))) == [
        "spec.containers[1].image",
        "spec.containers[1].name",
        "spec.restartPolicy",
    ]
    assert fields(validation.validate("", "Pod", {"spec": {}})) == ["spec.containers"]


def test_pod_spec_is_immutable_but_images() -> None:
    old = {"spec": {"containers": [{"name": "a", "image": "x"}], "nodeName": "n"}}
    new_image = {"spec": {"containers": [{"name": "a", "image": "y"}], "nodeName": "n"}}
    assert validation.validate_update("", "Pod", new_image, old) == []
    new_cmd = {"spec": {"containers": [{"name": "a", "image": "x", "command": ["sh"]}]}}
    errs = validation.validate_update("", "Pod", new_cmd, old)
    assert fields(errs) == ["spec"] and errs[0].type == "FieldValueForbidden"


def test_configmap_and_secret_keys() -> None:
    assert fields(validation.validate("", "ConfigMap", {"data": {"bad key": "v"}})) == [
        "data[bad key]"
    ]
    errs = validation.validate("", "Secret", {"data": {"k": "not base64!"}})
    assert fields(errs) == ["data[k]"]
    assert validation.validate("", "Secret", {"data": {"k": "bXlzcWw="}}) == []


def test_job_restart_policy() -> None:
    job = {
        "spec": {
            "template": {
                "spec": {"containers": [{"name": "c", "image": "i"}], "restartPolicy": "Always"}
            }
        }
    }
    assert fields(validation.validate("batch", "Job", job)) == ["spec.template.spec.restartPolicy"]


def test_workload_without_spec_reports_what_upstream_reports() -> None:
    # a Deployment or StatefulSet with no spec at all (as in the notes): the template is a
    # struct upstream, so its (empty) pod spec is validated rather than reported missing
    errs = validation.validate("apps", "Deployment", {"kind": "Deployment"})
    assert fields(errs) == [
        "spec.selector",
        "spec.template.metadata.labels",
        "spec.template.spec.containers",
    ]
    # ValidatePodTemplateSpecForStatefulSet does not validate the pod spec (an upstream TODO)
    errs = validation.validate("apps", "StatefulSet", {"kind": "StatefulSet"})
    assert fields(errs) == ["spec.selector", "spec.template.metadata.labels"]
    empty = deployment({"a": "b"}, {})
    empty["kind"] = "StatefulSet"
    errs = validation.validate("apps", "StatefulSet", empty)
    assert fields(errs) == ["spec.selector"]
    assert "empty selector is invalid for statefulset" in errs[0].message()


def test_ingress_needs_rules_or_default_backend() -> None:
    errs = validation.validate("networking.k8s.io", "Ingress", {"metadata": {"name": "i"}})
    assert [e.full() for e in errs] == [
        "spec: Invalid value: null: either `defaultBackend` or `rules` must be specified"
    ]
    path = {
        "path": "/x",
        "pathType": "Prefix",
        "backend": {"service": {"name": "s", "port": {"number": 80}}},
    }
    ok = {"spec": {"rules": [{"http": {"paths": [path]}}]}}
    assert validation.validate("networking.k8s.io", "Ingress", ok) == []
    bad = {"spec": {"rules": [{"http": {"paths": [{"path": "x", "pathType": "Prefix"}, {}]}}]}}
    assert fields(validation.validate("networking.k8s.io", "Ingress", bad)) == [
        "spec.rules[0].http.paths[0].path",
        "spec.rules[0].http.paths[0].backend",
        "spec.rules[0].http.paths[1].pathType",
    ]


def test_host_ports() -> None:
    def pod(host_network: bool, **port: Any) -> dict[str, Any]:
        c = {"name": "a", "image": "x", "ports": [{"containerPort": 80, **port}]}
        return {"spec": {"hostNetwork": host_network, "containers": [c]}}

    assert fields(validation.validate("", "Pod", pod(False, hostPort=8080))) == []
    assert fields(validation.validate("", "Pod", pod(False, hostPort=70000))) == [
        "spec.containers[0].ports[0].hostPort"
    ]
    assert fields(validation.validate("", "Pod", pod(True, hostPort=8080))) == [
        "spec.containers[0].ports[0].hostPort"
    ]
    assert fields(validation.validate("", "Pod", pod(True, hostPort=80))) == []
    # A template may leave it unset: the Pod made from it is defaulted.
    tmpl = pod(True)
    deploy = {
        "spec": {
            "selector": {"matchLabels": {"a": "b"}},
            "template": {"metadata": {"labels": {"a": "b"}}, "spec": tmpl["spec"]},
        }
    }
    assert fields(validation.validate("apps", "Deployment", deploy)) == []


def test_scheduling_gates_are_qualified_names_and_unique() -> None:
    """``validateSchedulingGates``: each gate a qualified name, none twice."""
    gates = [{"name": "example.com/a"}, {"name": "bad name"}, {"name": "example.com/a"}]
    pod = {"spec": {"containers": [{"name": "c", "image": "x"}], "schedulingGates": gates}}
    errs = validation.validate("", "Pod", pod)
    assert [(e.field, e.type) for e in errs] == [
        ("spec.schedulingGates[1]", "FieldValueInvalid"),
        ("spec.schedulingGates[2]", "FieldValueDuplicate"),
    ]
    assert 'Duplicate value: "example.com/a"' in errs[1].message()


def _pod(tolerations: list[dict[str, Any]], deadline: int | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"containers": [{"name": "c", "image": "nginx"}],
                            "tolerations": tolerations}  # fmt: skip
    if deadline is not None:
        spec["activeDeadlineSeconds"] = deadline
    return {"metadata": {"name": "p"}, "spec": spec}


def test_pod_update_only_adds_tolerations() -> None:
    # ValidatePodUpdate's validateOnlyAddedTolerations: additions and new seconds pass
    k1 = {"key": "k1", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 5}
    k2 = {"key": "k2", "operator": "Exists"}
    old = _pod([k1])
    assert validation.validate_update("", "Pod", _pod([k1, k2]), old) == []
    assert validation.validate_update("", "Pod", _pod([{**k1, "tolerationSeconds": 9}]), old) == []
    for new in ([k2], [], [{**k1, "effect": "NoSchedule"}]):
        errs = validation.validate_update("", "Pod", _pod(new), old)
        assert [(e.type, e.field, e.detail) for e in errs] == [
            (
                "FieldValueForbidden",
                "spec.tolerations",
                "existing toleration can not be modified except its tolerationSeconds",
            )
        ]


def test_pod_update_active_deadline_only_lowers() -> None:
    old = _pod([], deadline=30)
    assert validation.validate_update("", "Pod", _pod([], deadline=20), old) == []
    errs = validation.validate_update("", "Pod", _pod([], deadline=40), old)
    assert [(e.field, e.detail) for e in errs] == [
        ("spec.activeDeadlineSeconds", "must be less than or equal to previous value")
    ]
    errs = validation.validate_update("", "Pod", _pod([]), old)
    assert [(e.field, e.detail) for e in errs] == [
        ("spec.activeDeadlineSeconds", "must not update from a positive integer to nil value")
    ]


def _strategy(**strategy: Any) -> dict[str, Any]:
    d = deployment({"app": "x"}, {"matchLabels": {"app": "x"}})
    d["spec"]["strategy"] = strategy
    return d


def test_deployment_strategy() -> None:
    # ValidateDeploymentStrategy / ValidateRollingUpdateDeployment, with upstream's words
    def errors(obj: dict[str, Any]) -> list[str]:
        return [f"{e.field}: {e.message()}" for e in validation.validate("apps", "Deployment", obj)]

    ok = {"maxSurge": "25%", "maxUnavailable": "25%"}
    assert errors(_strategy(type="RollingUpdate", rollingUpdate=ok)) == []
    assert errors(_strategy(type="Recreate")) == []
    assert errors(_strategy(type="Recreate", rollingUpdate=ok)) == [
        "spec.strategy.rollingUpdate: Forbidden: may not be specified when strategy `type` is "
        "'Recreate'"
    ]
    assert errors(
        _strategy(type="RollingUpdate", rollingUpdate={"maxSurge": 0, "maxUnavailable": "0%"})
    ) == ["spec.strategy.rollingUpdate.maxUnavailable: Invalid value: 0%: may not be 0 when "
          "`maxSurge` is 0"]  # fmt: skip
    assert errors(
        _strategy(type="RollingUpdate", rollingUpdate={"maxSurge": "1", "maxUnavailable": "150%"})
    ) == [
        "spec.strategy.rollingUpdate.maxSurge: Invalid value: 1: a valid percent string must "
        "be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for "
        "validation is '[0-9]+%')",
        "spec.strategy.rollingUpdate.maxUnavailable: Invalid value: 150%: must not be greater "
        "than 100%",
    ]
    assert errors(_strategy(type="Blue")) == [
        'spec.strategy: Unsupported value: apps.DeploymentStrategy{Type:"Blue", '
        'RollingUpdate:(*apps.RollingUpdateDeployment)(nil)}: supported values: "Recreate", '
        '"RollingUpdate"'
    ]
    d = _strategy(type="Recreate")
    d["spec"].update(minReadySeconds=10, progressDeadlineSeconds=10, revisionHistoryLimit=-1)
    assert errors(d) == [
        "spec.revisionHistoryLimit: Invalid value: -1: must be greater than or equal to 0",
        "spec.progressDeadlineSeconds: Invalid value: 10: must be greater than minReadySeconds",
    ]


def test_selector_mismatch_prints_the_labels_as_go_does() -> None:
    bad = deployment({"tier": "b", "app": "y"}, {"matchLabels": {"app": "x"}})
    errs = validation.validate("apps", "Deployment", bad)
    assert [f"{e.field}: {e.message()}" for e in errs] == [
        'spec.template.metadata.labels: Invalid value: map[string]string{"app":"y", '
        '"tier":"b"}: `selector` does not match template `labels`'
    ]


def test_container_resources() -> None:
    # ValidateResourceRequirements: no request above its limit, nothing negative
    pod = {
        "metadata": {"name": "p"},
        "spec": {
            "containers": [
                {
                    "name": "c",
                    "image": "nginx",
                    "resources": {
                        "limits": {"memory": "1Gi", "cpu": "-1"},
                        "requests": {"memory": "2048Mi"},
                    },
                }
            ]
        },
    }
    errs = validation.validate("", "Pod", pod)
    assert [f"{e.field}: {e.message()}" for e in errs] == [
        'spec.containers[0].resources.limits[cpu]: Invalid value: "-1": must be greater than '
        "or equal to 0",
        'spec.containers[0].resources.requests: Invalid value: "2Gi": must be less than or '
        "equal to memory limit of 1Gi",
    ]


def _job(image: str = "busybox", **spec: Any) -> dict[str, Any]:
    containers = [{"name": "c", "image": image}]
    tmpl = {
        "metadata": {"labels": {"job-name": "j"}},
        "spec": {"restartPolicy": "Never", "containers": containers},
    }
    return {"metadata": {"name": "j"}, "spec": {"template": tmpl, "completions": 1, **spec}}


def test_job_update_keeps_template_selector_and_completions() -> None:
    def errors(new: dict[str, Any], old: dict[str, Any]) -> list[str]:
        return [
            f"{e.field}: {e.message()}"
            for e in validation.validate_update("batch", "Job", new, old)
        ]

    sel = {"matchLabels": {"job-name": "j"}}
    old = _job(selector=sel)
    assert errors(_job(selector=sel, parallelism=3), old) == []
    assert errors(_job("nginx", selector=sel), old) == [
        "spec.template: Invalid value: core.PodTemplateSpec{...}: field is immutable"
    ]
    assert errors(_job(selector={"matchLabels": {"a": "b"}}, completions=2), old) == [
        "spec.completions: Invalid value: 2: field is immutable",
        'spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{"a":"b"}, '
        "MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable",
    ]
    # a suspended Job that never started may move: its scheduling directives are mutable
    suspended = _job(selector=sel, suspend=True)
    moved = _job(selector=sel, suspend=True)
    moved["spec"]["template"]["spec"]["nodeSelector"] = {"disk": "ssd"}
    assert errors(moved, suspended) == []


def test_deployment_selector_is_immutable_as_upstream_words_it() -> None:
    old = deployment({"app": "x"}, {"matchLabels": {"app": "x"}})
    new = deployment({"app": "x", "b": "c"}, {"matchLabels": {"app": "x", "b": "c"}})
    errs = validation.validate_update("apps", "Deployment", new, old)
    assert [f"{e.field}: {e.message()}" for e in errs] == [
        'spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{"app":"x", '
        '"b":"c"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable'
    ]
