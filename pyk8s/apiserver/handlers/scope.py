"""What every resource handler shares: the request scope, query options and rendering.

Mirrors k8s.io/apiserver ``pkg/endpoints/handlers/rest.go`` (``RequestScope``)
and ``response.go`` (``transformResponseObject``: Table, PartialObjectMetadata
or the object itself, in the encoding the client accepts).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson
from aiohttp import web

from pyk8s.api import (
    decoding,
    errors,
    fieldvalidation,
    quantities,
    scheme,
    selectors,
    strategicpatch,
)
from pyk8s.apiserver import decodeerrors, negotiation
from pyk8s.apiserver.authn import User
from pyk8s.apiserver.printers import columns, table
from pyk8s.apiserver.registry.generic import store as generic
from pyk8s.apiserver.registry.rest import REST
from pyk8s.apiserver.requestinfo import RequestInfo
from pyk8s.apiserver.schemas import Schemas

if TYPE_CHECKING:
    from pyk8s.apiserver import protobuf

Obj = dict[str, Any]


def patch_invalid(value: str, detail: str) -> errors.Invalid:
    """``errors.NewInvalid(schema.GroupKind{}, "", {patch: Invalid value})``: a patched
    object that does not decode."""
    return errors.Invalid.for_object("", "", "", [errors.invalid_value("patch", value, detail)])


@dataclass
class Scope:
    request: web.Request
    info: RequestInfo
    resource: scheme.Resource
    rest: REST
    user: User
    max_body: int
    codec: protobuf.Codec | None = None
    schemas: Schemas | None = None
    warnings: list[str] = field(default_factory=list)
    _raw: bytes | None = None  # the body as read (duplicate fields are found in it)

    @property
    def store(self) -> generic.Store:
        return self.rest.store

    @property
    def query(self) -> Any:
        return self.request.query

    @property
    def namespace(self) -> str:
        return self.info.namespace if self.resource.namespaced else ""

    def schema(self) -> strategicpatch.Schema | None:
        if self.rest.custom is not None:
            return self.rest.custom.merge_schema()  # type: ignore[no-any-return]
        if self.schemas is None:
            return None
        r = self.resource
        return self.schemas.for_kind(r.group, r.version, r.kind)

    def validate_fields(self, obj: Any, *, patch: Callable[[], str] | None = None) -> None:
        """Decoding as upstream's handlers decode: a field of the wrong JSON type fails (400
        for a body; for a patch, 422 naming ``patch`` with ``patch`` as its value), then
        ``fieldValidation``: Strict refuses unknown fields, Warn (the default) warns."""
        mode = self.query.get("fieldValidation", "Warn") or "Warn"
        if mode not in ("Ignore", "Warn", "Strict"):
            raise errors.BadRequest(
                f'fieldValidation: Unsupported value: "{mode}": supported values: "Ignore", '
                '"Strict", "Warn"'
            )
        ctype = (self.request.headers.get("Content-Type") or "").split(";")[0].strip()
        if ctype == negotiation.PROTOBUF or not isinstance(obj, dict):
            return
        if self.rest.custom is not None:
            # custom resources: a wrong type is a validation error (422) later, and
            # unknown fields are what pruning drops
            if mode != "Ignore":
                self._report_unknown(self.rest.custom.unknown_fields(obj), mode, patch)
            return
        schema = self.schema()
        if schema is None:
            return
        if patch is None:
            wrong = decoding.unmarshal_error(obj, schema, self.resource.kind) or (
                quantities.invalid(obj, schema)
            )
            if wrong:
                kind = obj.get("kind") or self.resource.kind
                version = str(obj.get("apiVersion") or self.resource.version).rsplit("/", 1)[-1]
                raise errors.BadRequest(
                    f'{kind} in version "{version}" cannot be handled as a '
                    f"{self.resource.kind}: {wrong}"
                )
        if mode == "Ignore":
            return
        unknown = fieldvalidation.unknown_fields(obj, schema)
        duplicates: list[str] = []
        if patch is None and self._raw is not None and ctype in ("", negotiation.JSON):
            # the decoder skips an unknown field's value: no repeats reported inside it
            duplicates = [
                d
                for d in fieldvalidation.duplicate_fields(self._raw)
                if not any(d.startswith(u) and d[len(u) : len(u) + 1] in ".[" for u in unknown)
            ]
        self._report_unknown(unknown, mode, patch, duplicates)

    def _report_unknown(
        self,
        unknown: list[str],
        mode: str,
        patch: Callable[[], str] | None,
        duplicates: Sequence[str] = (),
    ) -> None:
        if not unknown and not duplicates:
            return
        messages = [f'duplicate field "{p}"' for p in duplicates]
        messages += [f'unknown field "{p}"' for p in unknown]
        if mode == "Strict":
            text = "strict decoding error: " + ", ".join(messages)
            if patch is not None:
                raise patch_invalid(patch(), text)
            kind = self.resource.kind
            raise errors.BadRequest(
                f'{kind} in version "{self.resource.version}" cannot be handled as a {kind}: '
                + text
            )
        self.warnings.extend(messages)

    def printer(self) -> table.Printer:
        if self.rest.printer is not None:
            return self.rest.printer  # type: ignore[no-any-return]
        return columns.lookup(self.resource.group, self.resource.plural) or table.DEFAULT

    def target(self) -> negotiation.Target:
        return negotiation.choose(self.request.headers.get("Accept"), allow_table=True)

    async def body(self, kind: str = "") -> Any:
        """The decoded body; what does not decode into an object of ``kind`` (default: the
        resource's) is a 400 in upstream's words (``transformDecodeError``)."""
        kind = kind or self.resource.kind
        try:
            raw = await self.request.read()
        except web.HTTPRequestEntityTooLarge:
            raise errors.RequestEntityTooLarge(
                f"Request entity too large: limit is {self.max_body}"
            ) from None
        if len(raw) > self.max_body:
            raise errors.RequestEntityTooLarge(
                f"Request entity too large: limit is {self.max_body}"
            )
        content_type = self.request.headers.get("Content-Type")
        self._raw = raw
        try:
            if not raw.strip():
                raise negotiation.DecodeError(decodeerrors.json_error(raw))
            value = negotiation.decode(raw, content_type, self.codec)
        except negotiation.DecodeError as e:
            raise errors.BadRequest(decodeerrors.unrecognized(kind, e.message, raw)) from None
        if isinstance(value, (list, str, int, float)):  # bool is an int
            error = decodeerrors.json_error(raw, value, syntax=False)
            raise errors.BadRequest(decodeerrors.unrecognized(kind, error, raw))
        return value

    def write_options(self) -> generic.WriteOptions:
        manager = self.query.get("fieldManager", "")
        if not manager:
            from pyk8s.apiserver import fieldmanager

            manager = fieldmanager.default_manager(self.request.headers.get("User-Agent", ""))
        if len(manager) > 128:
            raise errors.BadRequest("fieldManager: Too long: must have at most 128 bytes")
        return generic.WriteOptions(
            dry_run=dry_run(self.query),
            field_manager=manager,
            subresource=self.info.subresource,
            user=self.user,
            schema=self.schema(),
        )

    def list_options(self, *, watch: bool = False) -> generic.ListOptions:
        q = self.query
        errs = validate_list_options(q, watch=watch)
        if errs:
            raise errors.Invalid.for_object("ListOptions", "meta.k8s.io", "", errs)
        try:
            label = selectors.parse_labels(q.get("labelSelector", ""))
            fields = selectors.parse_fields(q.get("fieldSelector", ""))
        except selectors.SelectorError as e:
            raise errors.BadRequest(str(e)) from e
        self.store.check_field_selector(fields)
        limit = 0
        if q.get("limit"):
            try:
                limit = max(int(q["limit"]), 0)
            except ValueError:
                raise errors.BadRequest(f"invalid limit: {q['limit']!r}") from None
        match = q.get("resourceVersionMatch", "")
        return generic.ListOptions(
            label_selector=label,
            field_selector=fields,
            limit=limit,
            continue_token=q.get("continue", ""),
            resource_version=q.get("resourceVersion", ""),
            resource_version_match=match,
        )

    # -- rendering

    def render(
        self,
        obj: Obj,
        status: int = 200,
        *,
        is_list: bool = False,
        printer: table.Printer | None = None,
    ) -> web.Response:
        """``obj`` in the form the client accepts; ``printer``: the Table columns of what
        ``obj`` is when it is not the resource itself (a subresource's kind, e.g. Scale)."""
        resp = self._render(obj, status, is_list=is_list, printer=printer)
        self.add_warnings(resp)
        return resp

    def add_warnings(self, resp: web.StreamResponse) -> None:
        """The ``Warning: 299`` headers kubectl prints (before a stream is prepared)."""
        for w in self.warnings:
            escaped = w.replace("\\", "\\\\").replace('"', '\\"')
            resp.headers.add("Warning", f'299 - "{escaped}"')

    def _go_type(self, obj: Obj, is_list: bool) -> str:
        """What Go's %T names for the object a handler transforms."""
        if self.rest.custom is not None:
            return "*unstructured.UnstructuredList" if is_list else "*unstructured.Unstructured"
        kind = str(obj.get("kind") or self.resource.kind).removesuffix("List")
        return f"*{_internal_package(self.resource.group)}.{kind}{'List' if is_list else ''}"

    def _render(
        self,
        obj: Obj,
        status: int = 200,
        *,
        is_list: bool = False,
        printer: table.Printer | None = None,
    ) -> web.Response:
        target = self.target()
        if target.output is negotiation.Output.TABLE:
            include = self.query.get("includeObject", "Metadata")
            if include not in ("None", "Metadata", "Object"):
                raise errors.BadRequest(
                    f'includeObject: Unsupported value: "{include}": supported values: '
                    '"Metadata", "None", "Object"'
                )
            items = obj["items"] if is_list else [obj]
            list_md = (
                dict(obj.get("metadata") or {})
                if is_list
                else {"resourceVersion": (obj.get("metadata") or {}).get("resourceVersion", "")}
            )
            body = table.to_table(
                printer or self.printer(),
                items,
                meta_version=target.version,
                include_object=include,
                list_metadata=list_md,
                api_version=obj.get("apiVersion") or self.resource.api_version,
                kind=obj.get("kind") or self.resource.kind,
            )
            return json_response(body, status)
        if target.output is negotiation.Output.PARTIAL:
            if target.list_ is not None and target.list_ != is_list:
                # transformObject: asPartialObjectMetadata(List) refuses the other shape
                asked = "PartialObjectMetadataList" if target.list_ else "PartialObjectMetadata"
                shape = "is a list" if is_list else "is not a list"
                raise errors.NotAcceptable(
                    f"you requested {asked}, but the requested object {shape} "
                    f"({self._go_type(obj, is_list)})"
                )
            if is_list:
                body = {
                    "kind": "PartialObjectMetadataList",
                    "apiVersion": f"meta.k8s.io/{target.version}",
                    "metadata": obj.get("metadata") or {},
                    "items": [table.partial_metadata(i, target.version) for i in obj["items"]],
                }
            else:
                body = table.partial_metadata(obj, target.version)
            return json_response(body, status)
        if target.output is negotiation.Output.YAML:
            return web.Response(
                body=negotiation.encode_yaml(obj), status=status, content_type="application/yaml"
            )
        return json_response(obj, status)


def _internal_package(group: str) -> str:
    """The Go package of a group's internal types (``core`` for the legacy group and for
    events.k8s.io, whose Events are core Events)."""
    if group in ("", "events.k8s.io"):
        return "core"
    return group.split(".", 1)[0]


def dry_run(query: Any) -> bool:
    values = query.getall("dryRun", []) if hasattr(query, "getall") else []
    for v in values:
        if v != "All":
            raise errors.BadRequest(f'dryRun: Unsupported value: "{v}": supported values: "All"')
    return bool(values)


def json_response(
    body: Any, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    return web.Response(
        body=orjson.dumps(body),
        status=status,
        content_type="application/json",
        headers=headers,
    )


def status_response(err: errors.ApiError) -> web.Response:
    return json_response(err.status(), err.code)


def success_status(resource: scheme.Resource, obj: Obj) -> Obj:
    md = obj.get("metadata") or {}
    details: Obj = {"name": md.get("name", "")}
    if resource.group:
        details["group"] = resource.group
    details["kind"] = resource.plural
    if md.get("uid"):
        details["uid"] = md["uid"]
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
        "details": details,
    }


def validate_list_options(q: Mapping[str, str], *, watch: bool) -> list[errors.FieldError]:
    """``ValidateListOptions`` (apimachinery ``meta/internalversion/validation``), the
    WatchList feature on: what a list, watch or deletecollection refuses with 422."""
    errs: list[errors.FieldError] = []
    match = q.get("resourceVersionMatch", "")
    rvm = "resourceVersionMatch"
    if watch:
        if "sendInitialEvents" in q and match != "NotOlderThan":
            errs.append(
                errors.forbidden(
                    rvm, "sendInitialEvents requires setting resourceVersionMatch to NotOlderThan"
                )
            )
        if match:
            if "sendInitialEvents" not in q:
                errs.append(
                    errors.forbidden(
                        rvm,
                        "resourceVersionMatch is forbidden for watch unless sendInitialEvents "
                        "is provided",
                    )
                )
            if match != "NotOlderThan":
                errs.append(errors.not_supported(rvm, match, ["NotOlderThan"]))
            if q.get("continue"):
                errs.append(
                    errors.forbidden(
                        rvm, "resourceVersionMatch is forbidden when continue is provided"
                    )
                )
        return errs
    if match:
        if not q.get("resourceVersion"):
            errs.append(
                errors.forbidden(
                    rvm, "resourceVersionMatch is forbidden unless resourceVersion is provided"
                )
            )
        if q.get("continue"):
            errs.append(
                errors.forbidden(rvm, "resourceVersionMatch is forbidden when continue is provided")
            )
        if match not in ("Exact", "NotOlderThan"):
            errs.append(errors.not_supported(rvm, match, ["Exact", "NotOlderThan", ""]))
        if match == "Exact" and q.get("resourceVersion") == "0":
            errs.append(
                errors.forbidden(
                    rvm, 'resourceVersionMatch "exact" is forbidden for resourceVersion "0"'
                )
            )
    if "sendInitialEvents" in q:
        errs.append(
            errors.forbidden("sendInitialEvents", "sendInitialEvents is forbidden for list")
        )
    return errs
