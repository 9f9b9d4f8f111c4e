"""Semantic validation of storage.k8s.io/v1 StorageClasses.

Mirrors ``pkg/apis/storage/validation/validation.go`` (``ValidateStorageClass``:
a provisioner is required and a qualified name, at most 512 parameters, the
reclaim policy and binding mode from their sets; ``ValidateStorageClassUpdate``:
parameters, provisioner, reclaim policy and binding mode never change).
"""

from __future__ import annotations

from typing import Any

from pyk8s.api import meta
from pyk8s.api.errors import FieldError, forbidden, invalid_value, not_supported, required

Obj = dict[str, Any]

RECLAIM = ["Delete", "Retain"]
BINDING_MODES = ["Immediate", "WaitForFirstConsumer"]
MAX_PARAMETERS = 512


def storage_class(obj: Obj) -> list[FieldError]:
    errs: list[FieldError] = []
    prov = obj.get("provisioner") or ""
    if not prov:
        errs.append(required("provisioner"))
    else:
        errs += [invalid_value("provisioner", prov, m) for m in meta.qualified_name(prov.lower())]
    params = obj.get("parameters") or {}
    if isinstance(params, dict) and len(params) > MAX_PARAMETERS:
        errs.append(
            invalid_value(
                "parameters", len(params), f"must have at most {MAX_PARAMETERS} parameters"
            )
        )
    policy = obj.get("reclaimPolicy")
    if policy is not None and policy not in RECLAIM:
        errs.append(not_supported("reclaimPolicy", policy, RECLAIM))
    mode = obj.get("volumeBindingMode")
    if mode is not None and mode not in BINDING_MODES:
        errs.append(not_supported("volumeBindingMode", mode, BINDING_MODES))
    return errs


def storage_class_update(obj: Obj, old: Obj) -> list[FieldError]:
    errs: list[FieldError] = []
    if (obj.get("parameters") or {}) != (old.get("parameters") or {}):
        errs.append(forbidden("parameters", "updates to parameters are forbidden."))
    if obj.get("provisioner") != old.get("provisioner"):
        errs.append(forbidden("provisioner", "updates to provisioner are forbidden."))
    if obj.get("reclaimPolicy") != old.get("reclaimPolicy"):
        errs.append(forbidden("reclaimPolicy", "updates to reclaimPolicy are forbidden."))
    if obj.get("volumeBindingMode") != old.get("volumeBindingMode"):
        errs.append(
            invalid_value("volumeBindingMode", obj.get("volumeBindingMode"), "field is immutable")
        )
    return errs
