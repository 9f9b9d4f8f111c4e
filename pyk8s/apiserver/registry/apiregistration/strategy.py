"""APIService: the name is ``<version>.<group>`` (``v1.`` for the core group).

Mirrors ``kube-aggregator/pkg/apis/apiregistration/validation/validation.go``
(``ValidateAPIService``: the name is a path segment and must be ``spec.version`` + "." +
``spec.group``; the priorities' ranges; a service needs a namespace, a name and a valid port;
``insecureSkipTLSVerify`` and ``caBundle`` exclude each other).
"""

from __future__ import annotations

from typing import Any

from pyk8s.api import errors, meta
from pyk8s.apiserver.registry.generic.strategy import Strategy


class APIServiceStrategy(Strategy):
    name_validator = staticmethod(meta.path_segment_name)

    def validate(self, obj: dict[str, Any]) -> list[errors.FieldError]:
        errs = super().validate(obj)
        spec = obj.get("spec") or {}
        name = (obj.get("metadata") or {}).get("name", "")
        required = f"{spec.get('version', '')}.{spec.get('group', '')}"
        if name and name != required:
            errs.append(
                errors.invalid_value(
                    "metadata.name", name, f'must be `spec.version+"."+spec.group`: "{required}"'
                )
            )
        return errs + validate_spec(spec)


def validate_spec(spec: dict[str, Any]) -> list[errors.FieldError]:
    errs: list[errors.FieldError] = []
    group, version = spec.get("group") or "", spec.get("version") or ""
    if not group and version != "v1":
        errs.append(
            errors.required(
                "spec.group", "only v1 may have an empty group and it better be legacy kube"
            )
        )
    if not version:
        errs.append(errors.invalid_value("spec.version", version, "a DNS-1035 label is required"))
    gpm = spec.get("groupPriorityMinimum")
    if not isinstance(gpm, int) or not 0 < gpm <= 20000:
        errs.append(
            errors.invalid_value(
                "spec.groupPriorityMinimum", gpm, "must be positive and less than 20000"
            )
        )
    vp = spec.get("versionPriority")
    if not isinstance(vp, int) or not 0 < vp <= 1000:
        errs.append(
            errors.invalid_value("spec.versionPriority", vp, "must be positive and less than 1000")
        )
    svc = spec.get("service")
    if svc is None:
        if spec.get("caBundle"):
            errs.append(
                errors.invalid_value(
                    "spec.caBundle",
                    f"{len(str(spec['caBundle']))} bytes",
                    "local APIServices may not have a caBundle",
                )
            )
        if spec.get("insecureSkipTLSVerify"):
            errs.append(
                errors.invalid_value(
                    "spec.insecureSkipTLSVerify",
                    True,
                    "local APIServices may not have insecureSkipTLSVerify",
                )
            )
        return errs
    if not svc.get("namespace"):
        errs.append(errors.required("spec.service.namespace", ""))
    if not svc.get("name"):
        errs.append(errors.required("spec.service.name", ""))
    port = svc.get("port", 443)
    if not isinstance(port, int) or not 0 < port < 65536:
        errs.append(
            errors.invalid_value(
                "spec.service.port",
                port,
                "port is not valid: must be between 1 and 65535, inclusive",
            )
        )
    if spec.get("insecureSkipTLSVerify") and spec.get("caBundle"):
        errs.append(
            errors.invalid_value(
                "spec.insecureSkipTLSVerify", True, "may not be true if caBundle is present"
            )
        )
    return errs
