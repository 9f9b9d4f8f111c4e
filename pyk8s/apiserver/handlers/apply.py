"""Server-side apply: ``PATCH`` with ``Content-Type: application/apply-patch+yaml``.

Mirrors k8s.io/apiserver ``pkg/endpoints/handlers/patch.go`` (``applyPatcher``)
and ``fieldmanager`` (``Apply``): the body is the manager's whole intent; the
object is created when missing; otherwise fields other managers own and this
apply would change are conflicts (409, ``FieldManagerConflict`` causes) unless
``force=true`` moves them; fields the manager applied before and dropped now
are removed; ``managedFields`` records an ``Apply`` entry for the manager. The
merge itself is ``pyk8s.api.structuredmerge``.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from pyk8s.api import decoding, errors
from pyk8s.apiserver import fieldmanager, negotiation
from pyk8s.apiserver.handlers.scope import Scope
from pyk8s.apiserver.registry.generic.store import WriteOptions

Obj = dict[str, Any]


async def apply(scope: Scope, raw: bytes) -> web.Response:
    manager = scope.query.get("fieldManager", "")
    if not manager:
        raise errors.BadRequest("fieldManager: Required value: is required for apply patch")
    if len(manager) > 128:
        raise errors.BadRequest("fieldManager: Too long: must have at most 128 bytes")
    force = scope.query.get("force", "").lower() == "true"
    applied = negotiation.decode(raw, "application/yaml")
    if not isinstance(applied, dict):
        raise errors.BadRequest("an apply patch must be an object")
    md = applied.get("metadata") or {}
    if not isinstance(md, dict):
        raise errors.BadRequest("metadata must be an object")
    if md.get("name") and md["name"] != scope.info.name:
        raise errors.BadRequest(
            f"the name of the object ({md['name']}) does not match the name on the URL "
            f"({scope.info.name})"
        )
    if not applied.get("apiVersion") or not applied.get("kind"):
        raise errors.BadRequest("apiVersion and kind must be set in an apply patch")
    if applied["apiVersion"] != scope.resource.api_version:
        raise errors.BadRequest(
            "Incorrect version specified in apply patch. Specified patch version: "
            f"{applied['apiVersion']}, expected: {scope.resource.api_version}"
        )
    if md.get("managedFields") is not None:
        raise errors.BadRequest("metadata.managedFields must be nil")
    schema = scope.schema()
    if scope.rest.custom is not None:  # a custom resource: fields its schema prunes
        unknown = scope.rest.custom.unknown_fields(applied)
        wrong = f".{unknown[0]}: field not declared in schema" if unknown else None
    else:
        wrong = decoding.apply_error(applied, schema) if schema is not None else None
    if wrong:
        # upstream's field manager fails with a plain error: 500, reason Unknown
        gvk = f"{scope.resource.group}/{scope.resource.version}, Kind={scope.resource.kind}"
        raise errors.ApiError(
            f"failed to create typed patch object ({md.get('namespace', '')}/"
            f"{md.get('name', '')}; {gvk}): {wrong}",
            code=500,
            reason="",
        )
    scope.validate_fields(None)  # checks the fieldValidation parameter
    api_version = scope.resource.api_version
    dry_run = scope.write_options().dry_run
    sub = scope.info.subresource
    strategy = None
    if sub:
        strategy = scope.rest.subresources.get(sub)
        if strategy is None:
            raise errors.MethodNotAllowed(
                f"the server does not allow this method on the requested resource "
                f"({scope.resource.plural}/{sub})"
            )
    for _attempt in range(5):
        try:
            live = await scope.store.get(scope.namespace, scope.info.name)
        except errors.NotFound:
            if sub:
                raise
            obj = fieldmanager.apply(None, applied, manager, api_version, schema, force=force)
            obj["apiVersion"], obj["kind"] = applied["apiVersion"], applied["kind"]
            obj.setdefault("metadata", {})["name"] = scope.info.name
            opts = WriteOptions(
                dry_run=dry_run,
                field_manager=manager,
                user=scope.user,
                managed_fields=obj["metadata"].pop("managedFields", []),
                schema=schema,
            )
            try:
                created = await scope.store.create(scope.namespace, obj, opts)
            except errors.AlreadyExists:
                continue
            return scope.render(created, 201)
        new = fieldmanager.apply(
            live, applied, manager, api_version, schema, force=force, subresource=sub
        )
        opts = WriteOptions(
            dry_run=dry_run,
            field_manager=manager,
            subresource=sub,
            user=scope.user,
            managed_fields=new["metadata"].pop("managedFields", []),
            schema=schema,
        )
        try:
            obj, _ = await scope.store.update(
                scope.namespace, scope.info.name, new, opts, strategy=strategy
            )
        except errors.Conflict as e:
            if "the object has been modified" in e.message:
                continue
            raise
        return scope.render(obj)
    raise errors.Conflict.for_object(
        scope.resource.plural, scope.resource.group, scope.info.name, errors.OPTIMISTIC_LOCK_MESSAGE
    )
