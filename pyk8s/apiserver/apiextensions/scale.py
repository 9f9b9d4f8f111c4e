"""The ``scale`` subresource of custom resources: an ``autoscaling/v1`` Scale over the
CRD's ``specReplicasPath``, ``statusReplicasPath`` and ``labelSelectorPath``.

Mirrors ``apiextensions-apiserver/pkg/registry/customresource/etcd.go``
(``ScaleREST``: ``scaleFromCustomResource`` reads the paths, a missing
replicas field is 0; ``Update`` writes the spec path with the Scale's
resourceVersion as precondition).
"""

from __future__ import annotations

import copy
from typing import Any

from aiohttp import web

from pyk8s.api import errors
from pyk8s.apiserver.apiextensions.customresource import (
    ScalePaths,
    Version,
    nested,
    path_parts,
    set_nested,
)
from pyk8s.apiserver.handlers import patch as patch_handler
from pyk8s.apiserver.handlers.scope import Scope, json_response

Obj = dict[str, Any]


def _int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return 0
    return int(value)


def to_scale(obj: Obj, paths: ScalePaths) -> Obj:
    md = obj.get("metadata") or {}
    spec, _ = nested(obj, path_parts(paths.spec_replicas))
    status, _ = nested(obj, path_parts(paths.status_replicas))
    selector = ""
    if paths.label_selector:
        found, ok = nested(obj, path_parts(paths.label_selector))
        if ok and isinstance(found, str):
            selector = found
    out_md = {
        k: md[k]
        for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
        if k in md
    }
    return {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": out_md,
        "spec": {"replicas": _int(spec)},
        "status": {"replicas": _int(status), **({"selector": selector} if selector else {})},
    }


async def _write(scope: Scope, version: Version, scale: Any, current: Obj) -> web.Response:
    assert version.scale is not None
    if not isinstance(scale, dict):
        raise errors.BadRequest("the body must be a Scale object")
    replicas = (scale.get("spec") or {}).get("replicas")
    if replicas is None:
        replicas = 0
    if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
        raise errors.Invalid.for_object(
            "Scale",
            "autoscaling",
            scope.info.name,
            [errors.invalid_value("spec.replicas", replicas, "must be greater than or equal to 0")],
        )
    obj = copy.deepcopy(current)
    set_nested(obj, path_parts(version.scale.spec_replicas), replicas)
    rv = (scale.get("metadata") or {}).get("resourceVersion")
    obj["metadata"]["resourceVersion"] = rv or current["metadata"]["resourceVersion"]
    updated, _ = await scope.store.update(
        scope.namespace, scope.info.name, obj, scope.write_options()
    )
    return json_response(to_scale(updated, version.scale))


async def scale(scope: Scope, version: Version) -> web.Response:
    if version.scale is None:
        raise errors.NotFound.no_resource()
    current = await scope.store.get(scope.namespace, scope.info.name)
    verb = scope.info.verb
    if verb == "get":
        return json_response(to_scale(current, version.scale))
    if verb == "update":
        return await _write(scope, version, await scope.body("Scale"), current)
    if verb == "patch":
        raw = await scope.request.read()
        patched = patch_handler.apply_patch(
            scope.request.headers.get("Content-Type", ""),
            to_scale(current, version.scale),
            raw,
            scope.schemas.for_kind("autoscaling", "v1", "Scale") if scope.schemas else None,
        )
        if isinstance(patched, dict):
            patched.setdefault("metadata", {}).pop("resourceVersion", None)
        return await _write(scope, version, patched, current)
    raise errors.MethodNotAllowed(
        f"the server does not allow this method on the requested resource "
        f"({scope.resource.plural}/scale)"
    )
