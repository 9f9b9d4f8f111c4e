"""Service strategy: DNS-1035 names, the defaults a Service gets, port validation.

Mirrors ``pkg/registry/core/service/strategy.go`` (``svcStrategy``) and the
Service parts of ``pkg/apis/core/v1/defaults.go`` (``SetDefaults_Service``:
type ClusterIP, sessionAffinity None, protocol TCP, targetPort = port,
traffic policies Cluster, allocateLoadBalancerNodePorts true) and
``pkg/apis/core/validation`` (``ValidateService``).
IPs and node ports are allocated by ``storage.py``.
"""

from __future__ import annotations

import copy

from pyk8s.api import errors, meta
from pyk8s.apiserver.registry.generic.strategy import Obj, Strategy

TYPES = ["ClusterIP", "NodePort", "LoadBalancer", "ExternalName"]


def set_defaults(obj: Obj) -> None:
    spec = obj.setdefault("spec", {})
    stype = spec.setdefault("type", "ClusterIP")
    spec.setdefault("sessionAffinity", "None")
    if stype != "ExternalName":
        spec.setdefault("internalTrafficPolicy", "Cluster")
    if stype in ("NodePort", "LoadBalancer"):
        spec.setdefault("externalTrafficPolicy", "Cluster")
    if stype == "LoadBalancer":
        spec.setdefault("allocateLoadBalancerNodePorts", True)
    for p in spec.get("ports") or []:
        if not isinstance(p, dict):
            continue
        p.setdefault("protocol", "TCP")
        if "targetPort" not in p and "port" in p:
            p["targetPort"] = p["port"]


def validate_spec(obj: Obj) -> list[errors.FieldError]:
    spec = obj.get("spec") or {}
    errs: list[errors.FieldError] = []
    stype = spec.get("type", "ClusterIP")
    if stype not in TYPES:
        errs.append(errors.not_supported("spec.type", stype, TYPES))
    ports = spec.get("ports") or []
    if stype != "ExternalName" and spec.get("clusterIP") != "None" and not ports:
        errs.append(errors.required("spec.ports"))
    if stype == "ExternalName" and not spec.get("externalName"):
        errs.append(errors.required("spec.externalName"))
    names = set()
    for i, p in enumerate(ports):
        if not isinstance(p, dict):
            errs.append(errors.invalid_value(f"spec.ports[{i}]", p, "must be an object"))
            continue
        port = p.get("port")
        if not isinstance(port, int) or not 1 <= port <= 65535:
            errs.append(
                errors.invalid_value(
                    f"spec.ports[{i}].port", port, "must be between 1 and 65535, inclusive"
                )
            )
        if len(ports) > 1 and not p.get("name"):
            errs.append(errors.required(f"spec.ports[{i}].name"))
        if p.get("name"):
            if p["name"] in names:
                errs.append(
                    errors.FieldError("FieldValueDuplicate", f"spec.ports[{i}].name", "", p["name"])
                )
            names.add(p["name"])
        proto = p.get("protocol", "TCP")
        if proto not in ("TCP", "UDP", "SCTP"):
            errs.append(
                errors.not_supported(f"spec.ports[{i}].protocol", proto, ["SCTP", "TCP", "UDP"])
            )
    return errs


class ServiceStrategy(Strategy):
    name_validator = staticmethod(meta.dns1035_label)

    def prepare_for_create(self, obj: Obj) -> None:
        super().prepare_for_create(obj)
        obj["status"] = {"loadBalancer": {}}
        set_defaults(obj)

    def validate(self, obj: Obj) -> list[errors.FieldError]:
        return super().validate(obj) + validate_spec(obj)

    def prepare_for_update(self, obj: Obj, old: Obj) -> None:
        super().prepare_for_update(obj, old)
        set_defaults(obj)
        spec = obj.setdefault("spec", {})
        old_spec = old.get("spec") or {}
        keep = spec.get("type") != "ExternalName"
        if keep and not spec.get("clusterIP") and old_spec.get("clusterIP"):
            spec["clusterIP"] = old_spec["clusterIP"]
            spec["clusterIPs"] = copy.deepcopy(old_spec.get("clusterIPs"))

    def validate_update(self, obj: Obj, old: Obj) -> list[errors.FieldError]:
        return super().validate_update(obj, old) + validate_spec(obj)
