"""PATCH (``handlers/patch.go`` ``PatchResource``) for the patch types that need no schema.

JSON patch (RFC 6902, ``application/json-patch+json``), JSON merge patch
(RFC 7386, ``application/merge-patch+json``) and strategic merge patch (with
the kind's schema: ``pyk8s.api.strategicpatch``; kinds without a schema get 415
as custom resources do upstream). Server-side apply (``application/apply-patch+yaml``)
is ``apply.py``. The patched object then goes through the normal update path
(conflicts, strategy).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import jsonpatch
import orjson
from aiohttp import web

from pyk8s.api import decoding, errors, strategicpatch
from pyk8s.apiserver import negotiation
from pyk8s.apiserver.handlers.scope import Scope, patch_invalid

JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC = "application/strategic-merge-patch+json"
APPLY = "application/apply-patch+yaml"


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: objects merge recursively, ``null`` deletes, anything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = dict(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = merge_patch(out.get(k), v)
    return out


def apply_patch(
    content_type: str,
    original: dict[str, Any],
    raw: bytes,
    schema: strategicpatch.Schema | None = None,
) -> Any:
    media = content_type.split(";", maxsplit=1)[0].strip().lower()
    if media == JSON_PATCH:
        ops = negotiation.decode(raw, "application/json")
        if not isinstance(ops, list):
            raise errors.BadRequest("a JSON patch must be a list of operations")
        try:
            return jsonpatch.apply_patch(original, ops)
        except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException) as e:
            raise errors.JSONPatchFailed() from e
    if media in (MERGE_PATCH, STRATEGIC):
        patch = negotiation.decode(raw, "application/json")
        if not isinstance(patch, dict):
            raise errors.BadRequest("a merge patch must be a JSON object")
        if media == MERGE_PATCH:
            return merge_patch(original, patch)
        if schema is None:
            raise errors.UnsupportedMediaType(
                f"the body of the request was in an unknown format - accepted media types "
                f"include: {JSON_PATCH}, {MERGE_PATCH}, {APPLY}"
            )
        try:
            return strategicpatch.apply(original, patch, schema)
        except strategicpatch.PatchError as e:
            if e.code == 500:  # a plain error upstream: 500, reason Unknown
                raise errors.ApiError(str(e), code=500, reason="") from e
            raise errors.BadRequest(str(e)) from e
    if media == APPLY:
        raise errors.UnsupportedMediaType("server-side apply is not supported on subresources yet")
    raise errors.UnsupportedMediaType(
        f"the body of the request was in an unknown format - accepted media types include: "
        f"{JSON_PATCH}, {MERGE_PATCH}, {STRATEGIC}"
    )


def _shown(content_type: str, raw: bytes, patched: Any) -> Callable[[], str]:
    """How upstream shows a patch that does not decode: the patch map as Go prints it
    (strategic merge), else the patched object's JSON."""

    def show() -> str:
        if content_type.split(";", maxsplit=1)[0].strip().lower() == STRATEGIC:
            return decoding.go_format(negotiation.decode(raw, "application/json"))
        return orjson.dumps(patched, option=orjson.OPT_SORT_KEYS).decode()

    return show


async def patch(scope: Scope) -> web.Response:
    raw = await scope.request.read()
    if len(raw) > scope.max_body:
        raise errors.RequestEntityTooLarge(f"Request entity too large: limit is {scope.max_body}")
    content_type = scope.request.headers.get("Content-Type", "")
    if content_type.split(";")[0].strip().lower() == APPLY and scope.info.subresource in (
        "",
        "status",
    ):
        from pyk8s.apiserver.handlers import apply as apply_handler

        return await apply_handler.apply(scope, raw)
    strategy = None
    if scope.info.subresource:
        strategy = scope.rest.subresources.get(scope.info.subresource)
        if strategy is None:
            raise errors.MethodNotAllowed(
                f"the server does not allow this method on the requested resource "
                f"({scope.resource.plural}/{scope.info.subresource})"
            )
    opts = scope.write_options()
    for _attempt in range(5):
        current = await scope.store.get(scope.namespace, scope.info.name)
        rv = current["metadata"]["resourceVersion"]
        custom = scope.rest.custom is not None  # no strategic merge for custom resources
        schema = None if custom else scope.schema()
        patched = apply_patch(content_type, copy.deepcopy(current), raw, schema)
        if not isinstance(patched, dict):
            raise errors.BadRequest("the patched object is not a JSON object")
        scope.warnings.clear()
        shown = _shown(content_type, raw, patched)
        if schema is not None:
            if content_type.split(";", maxsplit=1)[0].strip().lower() == STRATEGIC:
                wrong = decoding.converter_error(patched, schema)
            else:
                wrong = decoding.unmarshal_error(patched, schema, scope.resource.kind)
            if wrong:
                raise patch_invalid(shown(), wrong)
        scope.validate_fields(patched, patch=shown)
        md = patched.get("metadata")
        if not isinstance(md, dict):
            raise errors.BadRequest("the patched object has no metadata")
        # A patch that names a resourceVersion asks for that version (precondition);
        # otherwise the patch applies to what we just read.
        asked = md.get("resourceVersion")
        if not asked or asked == rv:
            md["resourceVersion"] = rv
        try:
            obj, _ = await scope.store.update(
                scope.namespace, scope.info.name, patched, opts, strategy=strategy
            )
        except errors.Conflict:
            if asked and asked != rv:
                raise
            continue
        return scope.render(obj)
    raise errors.Conflict.for_object(
        scope.resource.plural, scope.resource.group, scope.info.name, errors.OPTIMISTIC_LOCK_MESSAGE
    )
