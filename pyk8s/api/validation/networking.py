"""Semantic validation of networking.k8s.io/v1 objects.

Mirrors part of ``pkg/apis/networking/validation/validation.go`` (``ValidateIngressSpec``:
an Ingress routes nothing without rules or a default backend; each HTTP path needs a
``pathType`` from the supported set, and ``Prefix``/``Exact`` paths must be absolute).
"""

from __future__ import annotations

from typing import Any

from pyk8s.api.errors import FieldError, invalid_value, not_supported, required

Obj = dict[str, Any]

PATH_TYPES = ["Exact", "ImplementationSpecific", "Prefix"]


def ingress(obj: Obj) -> list[FieldError]:
    spec = obj.get("spec")
    spec = spec if isinstance(spec, dict) else {}
    rules = spec.get("rules") or []
    errs: list[FieldError] = []
    if not rules and not spec.get("defaultBackend"):
        errs.append(
            invalid_value(
                "spec", spec.get("rules"), "either `defaultBackend` or `rules` must be specified"
            )
        )
    for i, rule in enumerate(rules if isinstance(rules, list) else []):
        http = rule.get("http") if isinstance(rule, dict) else None
        paths = http.get("paths") if isinstance(http, dict) else None
        if isinstance(http, dict) and not paths:
            errs.append(required(f"spec.rules[{i}].http.paths"))
        for j, p in enumerate(paths if isinstance(paths, list) else []):
            where = f"spec.rules[{i}].http.paths[{j}]"
            kind = p.get("pathType") if isinstance(p, dict) else None
            path = p.get("path") if isinstance(p, dict) else None
            if kind is None:
                errs.append(required(f"{where}.pathType", "pathType must be specified"))
            elif kind not in PATH_TYPES:
                errs.append(not_supported(f"{where}.pathType", kind, PATH_TYPES))
            elif kind in ("Exact", "Prefix") and not str(path or "").startswith("/"):
                errs.append(invalid_value(f"{where}.path", path or "", "must be an absolute path"))
    return errs
