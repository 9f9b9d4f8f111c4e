"""The ``scale`` subresource: an ``autoscaling/v1 Scale`` view of ``spec.replicas``.

Mirrors ``pkg/registry/apps/deployment/storage/storage.go`` (``ScaleREST``:
``Get`` builds the Scale, ``Update`` writes ``spec.replicas`` back with the
Scale's resourceVersion as precondition) and ``scaleFromDeployment``.
"""

from __future__ import annotations

import copy
from typing import Any

from aiohttp import web

from pyk8s.api import errors
from pyk8s.apiserver.handlers import patch as patch_handler
from pyk8s.apiserver.handlers.scope import Scope
from pyk8s.apiserver.printers import columns
from pyk8s.apiserver.printers.columns import _map_selector, _selector_string

Obj = dict[str, Any]


def to_scale(obj: Obj, is_rc: bool) -> Obj:
    md = obj.get("metadata") or {}
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    selector = spec.get("selector")
    sel = _map_selector(selector) if is_rc else _selector_string(selector)
    out_md = {
        k: md[k]
        for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
        if k in md
    }
    return {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": out_md,
        "spec": {"replicas": int(spec.get("replicas") or 0)},
        "status": {
            "replicas": int(status.get("replicas") or 0),
            "selector": "" if sel == "<none>" else sel,
        },
    }


async def _write(scope: Scope, scale: Any, current: Obj) -> web.Response:
    if not isinstance(scale, dict):
        raise errors.BadRequest("the body must be a Scale object")
    replicas = (scale.get("spec") or {}).get("replicas")
    if not isinstance(replicas, int) or replicas < 0:
        raise errors.Invalid.for_object(
            "Scale",
            "autoscaling",
            scope.info.name,
            [errors.invalid_value("spec.replicas", replicas, "must be greater than or equal to 0")],
        )
    obj = copy.deepcopy(current)
    obj.setdefault("spec", {})["replicas"] = replicas
    rv = (scale.get("metadata") or {}).get("resourceVersion")
    obj["metadata"]["resourceVersion"] = rv or current["metadata"]["resourceVersion"]
    updated, _ = await scope.store.update(
        scope.namespace, scope.info.name, obj, scope.write_options()
    )
    out = to_scale(updated, scope.resource.plural == "replicationcontrollers")
    return scope.render(out, printer=columns.SCALE)


async def scale(scope: Scope) -> web.Response:
    is_rc = scope.resource.plural == "replicationcontrollers"
    current = await scope.store.get(scope.namespace, scope.info.name)
    verb = scope.info.verb
    if verb == "get":
        # ScaleREST.ConvertToTable: the store's table generator, which prints Scales
        return scope.render(to_scale(current, is_rc), printer=columns.SCALE)
    if verb == "update":
        return await _write(scope, await scope.body("Scale"), current)
    if verb == "patch":
        raw = await scope.request.read()
        patched = patch_handler.apply_patch(
            scope.request.headers.get("Content-Type", ""),
            to_scale(current, is_rc),
            raw,
            scope.schemas.for_kind("autoscaling", "v1", "Scale") if scope.schemas else None,
        )
        if isinstance(patched, dict):
            patched.setdefault("metadata", {}).pop("resourceVersion", None)
        return await _write(scope, patched, current)
    raise errors.MethodNotAllowed(
        f"the server does not allow this method on the requested resource "
        f"({scope.resource.plural}/scale)"
    )
