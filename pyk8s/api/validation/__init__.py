"""Semantic validation per kind: ``validate(group, kind, obj)`` and ``validate_update``.

One module per API group (``pkg/apis/<group>/validation``); this table says which
functions apply to which kind. Kinds without an entry get metadata validation only
(done by the strategy).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pyk8s.api.errors import FieldError
from pyk8s.api.validation import apps, core, networking

Obj = dict[str, Any]

_CREATE: dict[tuple[str, str], Callable[[Obj], list[FieldError]]] = {
    ("", "Pod"): core.pod,
    ("", "ConfigMap"): core.configmap,
    ("", "Secret"): core.secret,
    ("apps", "Deployment"): apps.workload,
    ("apps", "ReplicaSet"): apps.workload,
    ("apps", "StatefulSet"): apps.workload,
    ("apps", "DaemonSet"): apps.daemonset,
    ("batch", "Job"): apps.job,
    ("batch", "CronJob"): apps.cronjob,
    ("networking.k8s.io", "Ingress"): networking.ingress,
}

_UPDATE: dict[tuple[str, str], Callable[[Obj, Obj], list[FieldError]]] = {
    ("", "Pod"): core.pod_update,
    ("apps", "Deployment"): apps.selector_immutable,
    ("apps", "ReplicaSet"): apps.selector_immutable,
    ("apps", "StatefulSet"): apps.selector_immutable,
    ("apps", "DaemonSet"): apps.selector_immutable,
}


def validate(group: str, kind: str, obj: Obj) -> list[FieldError]:
    fn = _CREATE.get((group, kind))
    return fn(obj) if fn is not None else []


def validate_update(group: str, kind: str, obj: Obj, old: Obj) -> list[FieldError]:
    errs = validate(group, kind, obj)
    fn = _UPDATE.get((group, kind))
    if fn is not None:
        errs += fn(obj, old)
    return errs
