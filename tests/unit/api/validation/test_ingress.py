# ruff: noqa: E501
"""Table tests of Ingress and IngressClass validation: upstream's field paths and messages."""

from __future__ import annotations

from typing import Any

import pytest

from pyk8s.api import validation

NET = "networking.k8s.io"
SVC = {"service": {"name": "web", "port": {"number": 80}}}


def ing(*paths: dict[str, Any], host: str = "", **spec: Any) -> dict[str, Any]:
    rule: dict[str, Any] = {"http": {"paths": list(paths)}}
    if host:
        rule["host"] = host
    return {"metadata": {"name": "i"}, "spec": {"rules": [rule], **spec}}


def path(p: str = "/", kind: str | None = "Prefix", backend: Any = SVC) -> dict[str, Any]:
    out: dict[str, Any] = {"path": p, "backend": backend}
    if kind is not None:
        out["pathType"] = kind
    return out


WILDCARD_MSG = (
    "a wildcard DNS-1123 subdomain must start with '*.', followed by a valid DNS subdomain, which must "
    "consist of lower case alphanumeric characters, '-' or '.' and end with an alphanumeric character "
    "(e.g. '*.example.com', regex used for validation is '\\*\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and "
    "must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation "
    "is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
P0 = "spec.rules[0].http.paths[0]"

INGRESS_CASES = [
    ("valid", ing(path(), path("/api", "Exact"), path("", "ImplementationSpecific"), host="*.example.com",
                  tls=[{"hosts": ["a.example.com", "*.example.com"], "secretName": "tls"}],
                  ingressClassName="nginx"), []),
    ("default-backend-only", {"spec": {"defaultBackend": SVC}}, []),
    ("nothing-routed", {"spec": {}},
     ["spec: Invalid value: null: either `defaultBackend` or `rules` must be specified"]),
    ("no-paths", {"spec": {"rules": [{"http": {}}]}}, ["spec.rules[0].http.paths: Required value"]),
    ("no-path-type", ing(path(kind=None)), [f"{P0}.pathType: Required value: pathType must be specified"]),
    ("bad-path-type", ing(path(kind="Regex")),
     [f'{P0}.pathType: Unsupported value: "Regex": supported values: "Exact", "ImplementationSpecific", "Prefix"']),
    ("relative", ing(path("api")), [f'{P0}.path: Invalid value: "api": must be an absolute path']),
    ("traversal", ing(path("/a//b/..", "Exact")),
     [f"{P0}.path: Invalid value: \"/a//b/..\": must not contain '//'",
      f"{P0}.path: Invalid value: \"/a//b/..\": cannot end with '/..'"]),
    ("impl-specific-relative", ing(path("x", "ImplementationSpecific")),
     [f'{P0}.path: Invalid value: "x": must be an absolute path']),
    ("ip-host", ing(path(), host="10.0.0.1"),
     ['spec.rules[0].host: Invalid value: "10.0.0.1": must be a DNS name, not an IP address']),
    ("bad-wildcard", ing(path(), host="foo.*.com"), [f'spec.rules[0].host: Invalid value: "foo.*.com": {WILDCARD_MSG}']),
    ("bad-host", ing(path(), host="Foo.com"), [f'spec.rules[0].host: Invalid value: "Foo.com": {SUBDOMAIN_MSG}']),
    ("both-backends", ing(path(backend={**SVC, "resource": {"kind": "Bucket", "name": "b"}})),
     [f'{P0}.backend: Invalid value: "": cannot set both resource and service backends']),
    ("no-backend", ing(path(backend={})), [f'{P0}.backend: Invalid value: "": resource or service backend is required']),
    ("resource-backend", ing(path(backend={"resource": {"apiGroup": "k8s.example.com", "kind": "Bucket"}})),
     [f"{P0}.backend.resource.name: Required value"]),
    ("service-name", ing(path(backend={"service": {"name": "9web", "port": {"name": "http"}}})),
     [f'{P0}.backend.service.name: Invalid value: "9web": a DNS-1035 label must consist of lower case alphanumeric '
      "characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  "
      "or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"]),
    ("port-name-and-number", ing(path(backend={"service": {"name": "web", "port": {"name": "http", "number": 80}}})),
     [f'{P0}.backend: Invalid value: "": cannot set both port name & port number']),
    ("no-port", ing(path(backend={"service": {"name": "web"}})),
     [f"{P0}.backend: Required value: port name or number is required"]),
    ("bad-port-name", ing(path(backend={"service": {"name": "web", "port": {"name": "-Http"}}})),
     [f'{P0}.backend.service.port.name: Invalid value: "-Http": must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)',
      f'{P0}.backend.service.port.name: Invalid value: "-Http": must not begin or end with a hyphen']),
    ("bad-port-number", ing(path(backend={"service": {"name": "web", "port": {"number": 70000}}})),
     [f"{P0}.backend.service.port.number: Invalid value: 70000: must be between 1 and 65535, inclusive"]),
    ("tls", ing(path(), tls=[{"hosts": ["*"], "secretName": "Bad_Secret"}]),
     [f'spec.tls[0].hosts[0]: Invalid value: "*": {WILDCARD_MSG}',
      f'spec.tls[0].secretName: Invalid value: "Bad_Secret": {SUBDOMAIN_MSG}']),
    ("class-annotation-mismatch",
     {**ing(path(), ingressClassName="nginx"),
      "metadata": {"name": "i", "annotations": {"kubernetes.io/ingress.class": "traefik"}}},
     ['annotations.kubernetes.io/ingress.class: Invalid value: "traefik": must match `ingressClassName` when both are specified']),
]  # fmt: skip


@pytest.mark.parametrize(("obj", "want"), [pytest.param(o, w, id=i) for i, o, w in INGRESS_CASES])
def test_ingress(obj: dict[str, Any], want: list[str]) -> None:
    assert [e.full() for e in validation.validate(NET, "Ingress", obj)] == want


def klass(**spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": "c"}, "spec": spec}


CLASS_CASES = [
    ("valid", klass(controller="example.com/ingress-controller",
                    parameters={"kind": "Params", "name": "p", "scope": "Namespace", "namespace": "ns"}), []),
    ("no-controller", klass(), ["spec.controller: Required value"]),
    ("not-domain-prefixed", klass(controller="nginx"),
     ['spec.controller: Invalid value: "nginx": must be a domain-prefixed path (such as "acme.io/foo")']),
    ("bad-path", klass(controller="example.com/a b"),
     ["spec.controller: Invalid value: \"a b\": Invalid path (regex used for validation is '[A-Za-z0-9/\\-._~%!$&'()*+,;=:]+')"]),
    ("params", klass(controller="example.com/c", parameters={"kind": "K", "name": "a/b", "scope": "Cluster", "namespace": "x"}),
     ["spec.parameters.name: Invalid value: \"a/b\": may not contain '/'",
      "spec.parameters.namespace: Forbidden: `parameters.scope` is set to 'Cluster'"]),
    ("params-scope", klass(controller="example.com/c", parameters={"kind": "K", "name": "n", "scope": "Global"}),
     ['spec.parameters.scope: Unsupported value: "Global": supported values: "Cluster", "Namespace"']),
    ("params-namespace", klass(controller="example.com/c", parameters={"kind": "K", "name": "n", "scope": "Namespace"}),
     ["spec.parameters.namespace: Required value: `parameters.scope` is set to 'Namespace'"]),
    ("params-no-scope", klass(controller="example.com/c", parameters={"name": "n"}),
     ["spec.parameters.kind: Required value", "spec.parameters.scope: Required value"]),
]  # fmt: skip


@pytest.mark.parametrize(("obj", "want"), [pytest.param(o, w, id=i) for i, o, w in CLASS_CASES])
def test_ingress_class(obj: dict[str, Any], want: list[str]) -> None:
    assert [e.full() for e in validation.validate(NET, "IngressClass", obj)] == want


def test_ingress_class_controller_is_immutable() -> None:
    old = klass(controller="example.com/a")
    new = klass(controller="example.com/b")
    assert [e.full() for e in validation.validate_update(NET, "IngressClass", new, old)] == [
        'spec.controller: Invalid value: "example.com/b": field is immutable'
    ]
