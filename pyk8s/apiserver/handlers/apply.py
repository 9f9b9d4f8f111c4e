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

import copy
from typing import Any

from aiohttp import web

from pyk8s.api import errors, meta, structuredmerge
from pyk8s.api.structuredmerge import Path
from pyk8s.apiserver import negotiation
from pyk8s.apiserver.handlers.scope import Scope
from pyk8s.apiserver.registry.generic.store import WriteOptions

Obj = dict[str, Any]


def _entry(manager: str, api_version: str, paths: set[Path], operation: str) -> Obj:
    return {
        "manager": manager,
        "operation": operation,
        "apiVersion": api_version,
        "time": meta.now(),
        "fieldsType": "FieldsV1",
        "fieldsV1": structuredmerge.to_fields_v1(paths),
    }


def _conflict_error(scope: Scope, found: list[structuredmerge.Conflict]) -> errors.Conflict:
    causes = [
        {
            "reason": "FieldManagerConflict",
            "message": f'conflict with "{c.manager}" using {c.api_version}',
            "field": c.field(),
        }
        for c in found
    ]
    if len(found) == 1:
        c = found[0]
        msg = (
            f'Apply failed with 1 conflict: conflict with "{c.manager}" using '
            f"{c.api_version}: {c.field()}"
        )
    else:
        lines = [f"Apply failed with {len(found)} conflicts:"]
        for c in found:
            lines.append(f'conflict with "{c.manager}" using {c.api_version}: {c.field()}')
        msg = " ".join(lines)
    details: Obj = {"name": scope.info.name, "kind": scope.resource.plural, "causes": causes}
    if scope.resource.group:
        details["group"] = scope.resource.group
    return errors.Conflict(msg, details=details)


async def apply(scope: Scope, raw: bytes) -> web.Response:
    manager = scope.query.get("fieldManager", "")
    if not manager:
        raise errors.BadRequest("fieldManager: Required value: is required for apply patch")
    force = scope.query.get("force", "").lower() == "true"
    applied = negotiation.decode(raw, "application/yaml")
    if not isinstance(applied, dict):
        raise errors.BadRequest("an apply patch must be an object")
    md = applied.get("metadata") or {}
    if md.get("name") and md["name"] != scope.info.name:
        raise errors.BadRequest(
            f"the name of the object ({md['name']}) does not match the name on the URL "
            f"({scope.info.name})"
        )
    if not applied.get("apiVersion") or not applied.get("kind"):
        raise errors.BadRequest("apiVersion and kind must be set in an apply patch")
    scope.validate_fields(applied)
    schema = scope.schema()
    api_version = scope.resource.api_version
    applied_paths = structuredmerge.field_set(applied, schema)
    dry_run = scope.write_options().dry_run
    for _attempt in range(5):
        try:
            live = await scope.store.get(scope.namespace, scope.info.name)
        except errors.NotFound:
            obj = copy.deepcopy(applied)
            obj.setdefault("metadata", {})["name"] = scope.info.name
            opts = WriteOptions(
                dry_run=dry_run,
                field_manager=manager,
                user=scope.user,
                managed_fields=[_entry(manager, api_version, applied_paths, "Apply")],
            )
            try:
                created = await scope.store.create(scope.namespace, obj, opts)
            except errors.AlreadyExists:
                continue
            return scope.render(created, 201)
        entries: list[Obj] = list(live["metadata"].get("managedFields") or [])
        prev: set[Path] = set()
        others: list[tuple[Obj, set[Path]]] = []
        for e in entries:
            paths = structuredmerge.from_fields_v1(e.get("fieldsV1"))
            if (
                e.get("manager") == manager
                and e.get("operation") == "Apply"
                and not e.get("subresource")
            ):
                prev = paths
            else:
                others.append((e, paths))
        found = structuredmerge.conflicts(
            live,
            applied,
            applied_paths,
            [(str(e.get("manager", "")), str(e.get("apiVersion", "")), p) for e, p in others],
        )
        if found and not force:
            raise _conflict_error(scope, found)
        taken = {c.path for c in found}
        kept_others: list[Obj] = []
        still_owned: set[Path] = set()
        for e, paths in others:
            remaining = paths - taken
            still_owned |= remaining
            if remaining:
                kept_others.append({**e, "fieldsV1": structuredmerge.to_fields_v1(remaining)})
        new = copy.deepcopy(live)
        # Shallow first: removing a list item removes its fields with it.
        for path in sorted(prev - applied_paths - still_owned, key=len):
            structuredmerge.remove(new, path)
        body = {k: v for k, v in applied.items() if k not in ("apiVersion", "kind")}
        body_md = dict(body.get("metadata") or {})
        for k in ("name", "namespace", "resourceVersion", "uid", "managedFields"):
            body_md.pop(k, None)
        body["metadata"] = body_md
        new = structuredmerge.merge(new, body, schema)
        managed = [*kept_others, _entry(manager, api_version, applied_paths, "Apply")]
        opts = WriteOptions(
            dry_run=dry_run,
            field_manager=manager,
            user=scope.user,
            managed_fields=managed,
        )
        try:
            obj, _ = await scope.store.update(scope.namespace, scope.info.name, new, opts)
        except errors.Conflict as e:
            if "the object has been modified" in e.message:
                continue
            raise
        return scope.render(obj)
    raise errors.Conflict.for_object(
        scope.resource.plural, scope.resource.group, scope.info.name, errors.OPTIMISTIC_LOCK_MESSAGE
    )
