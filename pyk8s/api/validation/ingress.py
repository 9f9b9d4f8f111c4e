"""Semantic validation of networking.k8s.io/v1 Ingresses and IngressClasses.

Mirrors the Ingress half of ``pkg/apis/networking/validation/validation.go``:
``ValidateIngressCreate`` / ``ValidateIngressSpec`` (rules or a default backend; hosts that
are DNS names, wildcards as RFC 1034 allows them; HTTP paths with a ``pathType`` and, for
``Exact`` and ``Prefix``, an absolute path free of traversal sequences; backends that are a
Service, by name and port name or number, or a typed resource, never both; TLS hosts and
secret names; the class name and its legacy annotation agreeing) and
``ValidateIngressClass`` (a domain-prefixed controller, immutable; parameters with a kind,
a name and a Cluster or Namespace scope).
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any

from pyk8s.api import meta
from pyk8s.api.errors import FieldError, forbidden, invalid_value, not_supported, required

Obj = dict[str, Any]

PATH_TYPES = ["Exact", "ImplementationSpecific", "Prefix"]
INVALID_PATH_SEQUENCES = ("//", "/./", "/../", "%2f", "%2F")
INVALID_PATH_SUFFIXES = ("/..", "/.")
CLASS_ANNOTATION = "kubernetes.io/ingress.class"
MAX_CONTROLLER = 250
SCOPES = ["Cluster", "Namespace"]

_SUBDOMAIN = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*"
_WILDCARD_FMT = r"\*\." + _SUBDOMAIN
_WILDCARD = re.compile(f"^{_WILDCARD_FMT}$")
_HTTP_PATH_FMT = r"[A-Za-z0-9/\-._~%!$&'()*+,;=:]+"
_HTTP_PATH = re.compile(f"^{_HTTP_PATH_FMT}$")


def _dict(value: Any) -> Obj:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def wildcard_subdomain(value: str) -> list[str]:
    """``IsWildcardDNS1123Subdomain``."""
    errs: list[str] = []
    if len(value) > meta.DNS1123_SUBDOMAIN_MAX:
        errs.append(f"must be no more than {meta.DNS1123_SUBDOMAIN_MAX} characters")
    if not _WILDCARD.match(value):
        errs.append(
            "a wildcard DNS-1123 subdomain must start with '*.', followed by a valid DNS "
            "subdomain, which must consist of lower case alphanumeric characters, '-' or '.' "
            "and end with an alphanumeric character (e.g. '*.example.com', regex used for "
            f"validation is '{_WILDCARD_FMT}')"
        )
    return errs


def port_name(name: str) -> list[str]:
    """``IsValidPortName``: every rule a name breaks, in upstream's order."""
    errs: list[str] = []
    if len(name) > 15:
        errs.append("must be no more than 15 characters")
    if not re.fullmatch(r"[-a-z0-9]+", name):
        errs.append("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)")
    if not re.search(r"[a-z]", name):
        errs.append("must contain at least one letter (a-z)")
    if "--" in name:
        errs.append("must not contain consecutive hyphens")
    if name and (name[0] == "-" or name[-1] == "-"):
        errs.append("must not begin or end with a hyphen")
    return errs


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def _host(host: str, path: str) -> list[FieldError]:
    if "*" in host:
        return [invalid_value(path, host, m) for m in wildcard_subdomain(host)]
    return [invalid_value(path, host, m) for m in meta.dns1123_subdomain(host)]


def _typed_reference(ref: Obj, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    group = ref.get("apiGroup")
    if group is not None:
        errs += [
            invalid_value(f"{path}.apiGroup", group, m) for m in meta.dns1123_subdomain(str(group))
        ]
    for key in ("kind", "name"):
        value = ref.get(key) or ""
        if not value:
            errs.append(required(f"{path}.{key}"))
        else:
            errs += [
                invalid_value(f"{path}.{key}", value, m) for m in meta.path_segment_name(str(value))
            ]
    return errs


def backend(value: Any, path: str) -> list[FieldError]:
    """``validateIngressBackend``."""
    b = _dict(value)
    resource, service = b.get("resource"), b.get("service")
    if resource is not None and service is not None:
        return [invalid_value(path, "", "cannot set both resource and service backends")]
    if resource is not None:
        return _typed_reference(_dict(resource), f"{path}.resource")
    if service is None:
        return [invalid_value(path, "", "resource or service backend is required")]
    svc = _dict(service)
    errs: list[FieldError] = []
    name = svc.get("name") or ""
    if not name:
        errs.append(required(f"{path}.service.name"))
    else:
        errs += [
            invalid_value(f"{path}.service.name", name, m) for m in meta.dns1035_label(str(name))
        ]
    port = _dict(svc.get("port"))
    port_name_ = port.get("name") or ""
    number = port.get("number") or 0
    if port_name_ and number:
        errs.append(invalid_value(path, "", "cannot set both port name & port number"))
    elif port_name_:
        errs += [
            invalid_value(f"{path}.service.port.name", port_name_, m)
            for m in port_name(str(port_name_))
        ]
    elif number:
        if isinstance(number, int) and not 1 <= number <= 65535:
            errs.append(
                invalid_value(
                    f"{path}.service.port.number", number, "must be between 1 and 65535, inclusive"
                )
            )
    else:
        errs.append(required(path, "port name or number is required"))
    return errs


def _http_path(value: Any, where: str) -> list[FieldError]:
    p = _dict(value)
    kind = p.get("pathType")
    path = p.get("path") or ""
    if kind is None:
        return [required(f"{where}.pathType", "pathType must be specified")]
    errs: list[FieldError] = []
    if kind in ("Exact", "Prefix"):
        if not str(path).startswith("/"):
            errs.append(invalid_value(f"{where}.path", path, "must be an absolute path"))
        if path:
            for seq in INVALID_PATH_SEQUENCES:
                if seq in path:
                    errs.append(invalid_value(f"{where}.path", path, f"must not contain '{seq}'"))
            for suffix in INVALID_PATH_SUFFIXES:
                if str(path).endswith(suffix):
                    errs.append(invalid_value(f"{where}.path", path, f"cannot end with '{suffix}'"))
    elif kind == "ImplementationSpecific":
        if path and not str(path).startswith("/"):
            errs.append(invalid_value(f"{where}.path", path, "must be an absolute path"))
    else:
        errs.append(not_supported(f"{where}.pathType", kind, PATH_TYPES))
    return errs + backend(p.get("backend"), f"{where}.backend")


def _rules(rules: list[Any]) -> list[FieldError]:
    errs: list[FieldError] = []
    for i, raw in enumerate(rules):
        rule = _dict(raw)
        host = rule.get("host") or ""
        if host:
            if _is_ip(str(host)):
                errs.append(
                    invalid_value(
                        f"spec.rules[{i}].host", host, "must be a DNS name, not an IP address"
                    )
                )
            errs += _host(str(host), f"spec.rules[{i}].host")
        http = rule.get("http")
        if http is None:
            continue
        paths = _list(_dict(http).get("paths"))
        if not paths:
            errs.append(required(f"spec.rules[{i}].http.paths"))
        for j, p in enumerate(paths):
            errs += _http_path(p, f"spec.rules[{i}].http.paths[{j}]")
    return errs


def ingress(obj: Obj) -> list[FieldError]:
    """``ValidateIngressCreate``: the spec, and the class annotation against the field
    (updates run it too, where upstream checks the annotation on create only)."""
    spec = _dict(obj.get("spec"))
    rules = _list(spec.get("rules"))
    errs: list[FieldError] = []
    if not rules and spec.get("defaultBackend") is None:
        errs.append(
            invalid_value(
                "spec", spec.get("rules"), "either `defaultBackend` or `rules` must be specified"
            )
        )
    if spec.get("defaultBackend") is not None:
        errs += backend(spec["defaultBackend"], "spec.defaultBackend")
    errs += _rules(rules)
    for i, raw in enumerate(_list(spec.get("tls"))):
        tls = _dict(raw)
        for j, host in enumerate(_list(tls.get("hosts"))):
            errs += _host(str(host), f"spec.tls[{i}].hosts[{j}]")
        secret = tls.get("secretName") or ""
        if secret:
            errs += [
                invalid_value(f"spec.tls[{i}].secretName", secret, m)
                for m in meta.dns1123_subdomain(str(secret))
            ]
    class_name = spec.get("ingressClassName")
    if class_name is not None:
        errs += [
            invalid_value("spec.ingressClassName", class_name, m)
            for m in meta.dns1123_subdomain(str(class_name))
        ]
    annotations = _dict(_dict(obj.get("metadata")).get("annotations"))
    annotated = annotations.get(CLASS_ANNOTATION)
    if annotated is not None and class_name is not None and annotated != class_name:
        errs.append(
            invalid_value(
                f"annotations.{CLASS_ANNOTATION}",
                annotated,
                "must match `ingressClassName` when both are specified",
            )
        )
    return errs


def _domain_prefixed_path(value: str, path: str) -> list[FieldError]:
    host, sep, rest = value.partition("/")
    if not sep or not host or not rest:
        return [
            invalid_value(path, value, 'must be a domain-prefixed path (such as "acme.io/foo")')
        ]
    errs = [invalid_value(path, host, m) for m in meta.dns1123_subdomain(host)]
    if not _HTTP_PATH.match(rest):
        errs.append(
            invalid_value(
                path, rest, f"Invalid path (regex used for validation is '{_HTTP_PATH_FMT}')"
            )
        )
    return errs


def ingress_class(obj: Obj) -> list[FieldError]:
    """``validateIngressClassSpec``."""
    spec = _dict(obj.get("spec"))
    errs: list[FieldError] = []
    controller = spec.get("controller") or ""
    if not controller:
        errs.append(required("spec.controller"))
    else:
        if len(controller) > MAX_CONTROLLER:
            errs.append(
                FieldError(
                    "FieldValueTooLong",
                    "spec.controller",
                    f"may not be more than {MAX_CONTROLLER} bytes",
                    show_value=False,
                )
            )
        errs += _domain_prefixed_path(str(controller), "spec.controller")
    params = spec.get("parameters")
    if params is None:
        return errs
    p = _dict(params)
    path = "spec.parameters"
    group = p.get("apiGroup")
    if group is not None:
        errs += [
            invalid_value(f"{path}.apiGroup", group, m) for m in meta.dns1123_subdomain(str(group))
        ]
    for key in ("kind", "name"):
        value = p.get(key) or ""
        if not value:
            errs.append(required(f"{path}.{key}"))
        else:
            errs += [
                invalid_value(f"{path}.{key}", value, m) for m in meta.path_segment_name(str(value))
            ]
    scope = p.get("scope")
    if scope is None:
        errs.append(required(f"{path}.scope"))
        return errs
    namespace = p.get("namespace")
    if scope not in SCOPES:
        errs.append(not_supported(f"{path}.scope", scope, SCOPES))
    elif scope == "Namespace":
        if namespace is None:
            errs.append(required(f"{path}.namespace", "`parameters.scope` is set to 'Namespace'"))
        else:
            errs += [
                invalid_value(f"{path}.namespace", namespace, m)
                for m in meta.dns1123_label(str(namespace))
            ]
    elif namespace is not None:
        errs.append(forbidden(f"{path}.namespace", "`parameters.scope` is set to 'Cluster'"))
    return errs


def ingress_class_update(obj: Obj, old: Obj) -> list[FieldError]:
    new_controller = _dict(obj.get("spec")).get("controller")
    old_controller = _dict(old.get("spec")).get("controller")
    if new_controller != old_controller:
        return [invalid_value("spec.controller", new_controller, "field is immutable")]
    return []
