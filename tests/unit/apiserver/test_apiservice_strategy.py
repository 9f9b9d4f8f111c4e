"""APIService validation (kube-aggregator ``validation.ValidateAPIService``)."""

from __future__ import annotations

from typing import Any

import pytest

from pyk8s.api import scheme
from pyk8s.apiserver.registry.apiregistration.strategy import APIServiceStrategy

PORT_MESSAGE = "port is not valid: must be between 1 and 65535, inclusive"


def _apiservice(name: str = "v1beta1.metrics.k8s.io", **spec: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "group": "metrics.k8s.io",
        "version": "v1beta1",
        "groupPriorityMinimum": 100,
        "versionPriority": 100,
        "insecureSkipTLSVerify": True,
        "service": {"namespace": "kube-system", "name": "metrics-server", "port": 443},
    }
    base.update(spec)
    return {
        "apiVersion": "apiregistration.k8s.io/v1",
        "kind": "APIService",
        "metadata": {"name": name},
        "spec": {k: v for k, v in base.items() if v is not None},
    }


def _errors(obj: dict[str, Any]) -> list[tuple[str, str]]:
    res = scheme.DEFAULT.lookup("apiregistration.k8s.io", "v1", "apiservices")
    assert res is not None
    return [(e.field, e.detail) for e in APIServiceStrategy(res).validate(obj)]


def test_valid_remote_and_local() -> None:
    assert _errors(_apiservice()) == []
    local = _apiservice("v1.", group="", version="v1", service=None, insecureSkipTLSVerify=None)
    assert _errors(local) == []


@pytest.mark.parametrize(
    ("obj", "field", "detail"),
    [
        pytest.param(_apiservice("v1.metrics.k8s.io"), "metadata.name",
                     'must be `spec.version+"."+spec.group`: "v1beta1.metrics.k8s.io"', id="name"),
        pytest.param(_apiservice(groupPriorityMinimum=0), "spec.groupPriorityMinimum",
                     "must be positive and less than 20000", id="group-priority"),
        pytest.param(_apiservice(versionPriority=1001), "spec.versionPriority",
                     "must be positive and less than 1000", id="version-priority"),
        pytest.param(_apiservice(caBundle="Zm9v"), "spec.insecureSkipTLSVerify",
                     "may not be true if caBundle is present", id="insecure-and-ca"),
        pytest.param(_apiservice(service={"namespace": "kube-system", "port": 443}),
                     "spec.service.name", "", id="service-name"),
        pytest.param(_apiservice(service={"namespace": "a", "name": "b", "port": 70000}),
                     "spec.service.port", PORT_MESSAGE,
                     id="port"),
        pytest.param(_apiservice("v1.", group="", version="v1", service=None),
                     "spec.insecureSkipTLSVerify",
                     "local APIServices may not have insecureSkipTLSVerify", id="local-insecure"),
        pytest.param(_apiservice("v2.", group="", version="v2", service=None,
                                 insecureSkipTLSVerify=None), "spec.group",
                     "only v1 may have an empty group and it better be legacy kube", id="no-group"),
    ],
)  # fmt: skip
def test_invalid(obj: dict[str, Any], field: str, detail: str) -> None:
    assert (field, detail) in _errors(obj)
