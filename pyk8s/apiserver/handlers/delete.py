"""DELETE of one object or a collection (``handlers/delete.go``).

Options come from the query and from a ``DeleteOptions`` body. The answer is
the object when deletion is pending (graceful or finalizers) or when the
resource returns deleted objects, else a ``Success`` Status.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from pyk8s.api import errors
from pyk8s.apiserver import negotiation
from pyk8s.apiserver.handlers.scope import Scope, dry_run, json_response, success_status
from pyk8s.apiserver.registry.generic import store as generic


async def _options(scope: Scope) -> generic.DeleteOptions:
    body: Any = {}
    raw = await scope.request.read()
    if raw.strip():
        body = negotiation.decode(raw, scope.request.headers.get("Content-Type"), scope.codec)
        if not isinstance(body, dict):
            raise errors.BadRequest("DeleteOptions must be a JSON object")
    q = scope.query
    grace: int | None = None
    value = q.get("gracePeriodSeconds", body.get("gracePeriodSeconds"))
    if value is not None:
        try:
            grace = int(value)
        except (TypeError, ValueError):
            raise errors.BadRequest(f"invalid gracePeriodSeconds: {value!r}") from None
    policy = q.get("propagationPolicy", body.get("propagationPolicy")) or ""
    orphan = q.get("orphanDependents", body.get("orphanDependents"))
    if orphan is not None and not policy:
        policy = "Orphan" if str(orphan).lower() == "true" else "Background"
    if policy not in ("", "Orphan", "Background", "Foreground"):
        raise errors.BadRequest(
            f'propagationPolicy: Unsupported value: "{policy}": supported values: '
            '"Foreground", "Background", "Orphan"'
        )
    pre = body.get("preconditions") or {}
    body_dry = body.get("dryRun") or []
    return generic.DeleteOptions(
        grace_period_seconds=grace,
        propagation_policy=policy,
        precondition_uid=pre.get("uid"),
        precondition_rv=pre.get("resourceVersion"),
        dry_run=dry_run(q) or body_dry == ["All"],
    )


async def delete(scope: Scope) -> web.Response:
    opts = await _options(scope)
    obj, deleted = await scope.store.delete(scope.namespace, scope.info.name, opts)
    if deleted and not scope.resource.return_deleted_object:
        return json_response(success_status(scope.resource, obj))
    return scope.render(obj)


async def delete_collection(scope: Scope) -> web.Response:
    opts = await _options(scope)
    listing = await scope.store.delete_collection(scope.namespace, scope.list_options(), opts)
    return scope.render(listing, is_list=True)
