"""The storage of one custom resource version: strategy, status strategy and the
storage-version codec.

Mirrors ``apiextensions-apiserver/pkg/registry/customresource`` (``strategy.go``:
status dropped on create and kept on update when ``/status`` is a subresource,
generation bumped by any change outside metadata, no unconditional updates;
``validator.go``: the schema, ``kind``/``apiVersion`` and the scale paths;
``status_strategy.go``) and ``pkg/apiserver/customresource_handler.go``
(``crdInfo``: one store per served version over one key prefix, objects
written in the storage version; the ``None`` conversion only rewrites
``apiVersion``). Pruning and defaulting run where upstream's decoder runs them:
before admission and the strategy.
"""

from __future__ import annotations

import copy
import math
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from pyk8s.api import errors, meta, scheme, selectors
from pyk8s.api.errors import FieldError
from pyk8s.api.strategicpatch import Schema as MergeSchema
from pyk8s.apiserver.apiextensions import structural
from pyk8s.apiserver.registry.generic import store as generic
from pyk8s.apiserver.registry.generic.strategy import Obj, StatusStrategy, Strategy
from pyk8s.storage import interface as storage

OBJECT_META_REF = "#/$defs/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
MAX_INT32 = 2**31 - 1


@dataclass(frozen=True)
class ScalePaths:
    spec_replicas: str
    status_replicas: str
    label_selector: str | None = None

    @classmethod
    def from_crd(cls, scale: Obj | None) -> ScalePaths | None:
        if not isinstance(scale, dict):
            return None
        return cls(
            str(scale.get("specReplicasPath") or ".spec.replicas"),
            str(scale.get("statusReplicasPath") or ".status.replicas"),
            scale.get("labelSelectorPath"),
        )


def path_parts(path: str) -> list[str]:
    return [p for p in path.lstrip(".").split(".") if p]


def nested(obj: Any, parts: list[str]) -> tuple[Any, bool]:
    cur = obj
    for p in parts:
        if not isinstance(cur, dict) or p not in cur:
            return None, False
        cur = cur[p]
    return cur, True


def set_nested(obj: Obj, parts: list[str], value: Any) -> None:
    cur = obj
    for p in parts[:-1]:
        nxt = cur.get(p)
        if not isinstance(nxt, dict):
            nxt = {}
            cur[p] = nxt
        cur = nxt
    cur[parts[-1]] = value


def _go_type(v: Any) -> str:
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, float):
        return "float64"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "[]interface {}"
    if isinstance(v, dict):
        return "map[string]interface {}"
    return "int64"


def _replicas_errors(obj: Obj, path: str) -> list[FieldError]:
    """``ValidateScaleSpec`` / ``ValidateScaleStatus``: an int64, 0 .. MaxInt32."""
    value, found = nested(obj, path_parts(path))
    if not found:
        return []
    if not isinstance(value, int) or isinstance(value, bool):
        if isinstance(value, float) and math.isfinite(value) and value == int(value):
            value = int(value)
        else:
            dotted = "." + ".".join(path_parts(path))
            return [
                errors.invalid_value(
                    path,
                    0,
                    f"{dotted} accessor error: {_go_repr(value)} is of the type "
                    f"{_go_type(value)}, expected int64",
                )
            ]
    if value < 0:
        return [errors.invalid_value(path, value, "should be a non-negative integer")]
    if value > MAX_INT32:
        return [errors.invalid_value(path, value, f"should be less than or equal to {MAX_INT32}")]
    return []


def _go_repr(v: Any) -> str:
    if isinstance(v, str):
        return v
    return orjson.dumps(v).decode()


@dataclass
class Version:
    """What the stores of one served version share (``crdInfo`` per version)."""

    group: str
    version: str
    kind: str
    list_kind: str
    namespaced: bool
    schema: Obj | None
    status: bool = False
    scale: ScalePaths | None = None
    printer_columns: list[Obj] = field(default_factory=list)
    deprecated: bool = False
    deprecation_warning: str | None = None
    merge_defs: Any = None
    """Built-in definitions (ObjectMeta for metadata) for the server-side apply schema."""

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}"

    def merge_schema(self) -> MergeSchema | None:
        """The schema server-side apply merges with: list types from the CRD, metadata as
        the built-in ObjectMeta."""
        if self.schema is None:
            return None
        node = dict(self.schema)
        props = dict(node.get("properties") or {})
        if self.merge_defs:
            props["metadata"] = {"$ref": OBJECT_META_REF}
        node["properties"] = props
        return MergeSchema(node, self.merge_defs or {})

    def unknown_fields(self, obj: Any) -> list[str]:
        """What pruning would drop (``fieldValidation`` Strict and Warn report these)."""
        if self.schema is None or not isinstance(obj, dict):
            return []
        return structural.prune(copy.deepcopy(obj), self.schema)

    def prune_and_default(self, obj: Obj) -> None:
        if self.schema is None:
            return
        structural.prune(obj, self.schema)
        structural.drop_nulls(obj, self.schema)
        structural.default(obj, self.schema)

    def validate(self, obj: Obj) -> list[FieldError]:
        errs: list[FieldError] = []
        if obj.get("kind") != self.kind:
            errs.append(errors.invalid_value("kind", obj.get("kind", ""), f"must be {self.kind}"))
        if obj.get("apiVersion") != self.api_version:
            errs.append(
                errors.invalid_value(
                    "apiVersion", obj.get("apiVersion", ""), f"must be {self.api_version}"
                )
            )
        if errs:
            return errs
        body = {k: v for k, v in obj.items() if k != "metadata"}
        errs += structural.validate(body, self.schema)
        errs += structural.validate_list_types(obj, self.schema)
        return errs

    def validate_scale(self, obj: Obj, *, spec: bool = True) -> list[FieldError]:
        if self.scale is None:
            return []
        errs = _replicas_errors(obj, self.scale.spec_replicas) if spec else []
        errs += _replicas_errors(obj, self.scale.status_replicas)
        if self.scale.label_selector:
            value, found = nested(obj, path_parts(self.scale.label_selector))
            if found and not isinstance(value, str):
                errs.append(
                    errors.invalid_value(
                        self.scale.label_selector,
                        "",
                        f".{'.'.join(path_parts(self.scale.label_selector))} accessor error: "
                        f"{_go_repr(value)} is of the type {_go_type(value)}, expected string",
                    )
                )
        return errs


def _finalizer_warnings(obj: Obj, old: Obj | None) -> list[str]:
    """``validateKubeFinalizerName``: a finalizer without a domain draws a warning."""
    new = set((obj.get("metadata") or {}).get("finalizers") or [])
    if old is not None:
        new -= set((old.get("metadata") or {}).get("finalizers") or [])
    out = []
    for f in sorted(new):
        if "/" not in f and f not in ("orphan", "foregroundDeletion"):
            out.append(
                f'metadata.finalizers: "{f}": prefer a domain-qualified finalizer name including '
                "a path (/) to avoid accidental conflicts with other finalizer writers"
            )
    return out


class CustomResourceStrategy(Strategy):
    allow_unconditional_update = False

    def __init__(self, resource: scheme.Resource, version: Version) -> None:
        super().__init__(resource)
        self.version = version

    @property
    def tracks_generation(self) -> bool:
        return True

    def default(self, obj: Obj) -> None:
        self.version.prune_and_default(obj)

    def prepare_for_create(self, obj: Obj) -> None:
        if self.version.status:
            obj.pop("status", None)
        meta.metadata(obj)["generation"] = 1

    def prepare_for_update(self, obj: Obj, old: Obj) -> None:
        if self.version.status:
            if "status" in old:
                obj["status"] = copy.deepcopy(old["status"])
            else:
                obj.pop("status", None)
        md = meta.metadata(obj)
        old_gen = int((old.get("metadata") or {}).get("generation") or 0)
        md["generation"] = old_gen
        if {k: v for k, v in obj.items() if k != "metadata"} != {
            k: v for k, v in old.items() if k != "metadata"
        }:
            md["generation"] = old_gen + 1

    def validate(self, obj: Obj) -> list[FieldError]:
        errs = self.version.validate(obj)
        if errs and errs[0].field in ("kind", "apiVersion"):
            return errs
        md_errs = meta.validate_object_meta(
            obj, namespaced=self.namespace_scoped, name_validator=meta.dns1123_subdomain
        )
        return md_errs + errs + self.version.validate_scale(obj)

    def validate_update(self, obj: Obj, old: Obj) -> list[FieldError]:
        errs = self.version.validate(obj)
        if errs and errs[0].field in ("kind", "apiVersion"):
            return errs
        return self.validate_meta_update(obj, old) + errs + self.version.validate_scale(obj)

    def warnings_on_create(self, obj: Obj) -> list[str]:
        return _finalizer_warnings(obj, None)

    def warnings_on_update(self, obj: Obj, old: Obj) -> list[str]:
        return _finalizer_warnings(obj, old)


class CustomResourceStatusStrategy(StatusStrategy):
    def __init__(self, resource: scheme.Resource, version: Version) -> None:
        super().__init__(resource)
        self.version = version

    def validate_update(self, obj: Obj, old: Obj) -> list[FieldError]:
        errs = self.version.validate(obj)
        if errs and errs[0].field in ("kind", "apiVersion"):
            return errs
        return (
            self.validate_meta_update(obj, old)
            + errs
            + self.version.validate_scale(obj, spec=False)
        )


class StorageVersionCodec:
    """A storage decorator that writes objects in the storage version: the served
    version's ``apiVersion`` at the start of the stored bytes becomes the storage one
    (the ``None`` conversion). Reads need nothing: each store stamps its own version."""

    def __init__(self, backend: storage.Interface, served: str, stored: str) -> None:
        self._backend = backend
        self._from = b'{"apiVersion":' + orjson.dumps(served) + b","
        self._to = b'{"apiVersion":' + orjson.dumps(stored) + b","

    def _encode(self, value: bytes) -> bytes:
        if value.startswith(self._from):
            return self._to + value[len(self._from) :]
        return value

    async def get(self, key: str, *, revision: int = 0) -> storage.KeyValue:
        return await self._backend.get(key, revision=revision)

    async def list(
        self, prefix: str, *, limit: int = 0, continue_token: str | None = None, revision: int = 0
    ) -> storage.ListResult:
        return await self._backend.list(
            prefix, limit=limit, continue_token=continue_token, revision=revision
        )

    async def count(self, prefix: str) -> int:
        return await self._backend.count(prefix)

    async def create(self, key: str, value: bytes) -> storage.KeyValue:
        return await self._backend.create(key, self._encode(value))

    async def guaranteed_update(
        self,
        key: str,
        try_update: storage.TryUpdate,
        *,
        preconditions: storage.Preconditions | None = None,
        ignore_not_found: bool = False,
    ) -> storage.KeyValue:
        async def wrapped(current: storage.KeyValue) -> bytes | None:
            out = await try_update(current)
            return None if out is None else self._encode(out)

        return await self._backend.guaranteed_update(
            key, wrapped, preconditions=preconditions, ignore_not_found=ignore_not_found
        )

    async def delete(
        self,
        key: str,
        *,
        preconditions: storage.Preconditions | None = None,
        validate_deletion: storage.ValidateDeletion | None = None,
    ) -> storage.KeyValue:
        return await self._backend.delete(
            key, preconditions=preconditions, validate_deletion=validate_deletion
        )

    def watch(self, prefix: str, *, from_revision: int = 0) -> storage.Watch:
        return self._backend.watch(prefix, from_revision=from_revision)

    async def current_revision(self) -> int:
        return await self._backend.current_revision()

    async def compacted_revision(self) -> int:
        return await self._backend.compacted_revision()

    async def compact(self, revision: int) -> None:
        await self._backend.compact(revision)

    async def close(self) -> None:
        """The wrapped backend belongs to the server: nothing to close here."""


UnknownFields = Callable[[Any], list[str]]


def _has_defaults(node: Any) -> bool:
    if isinstance(node, dict):
        return "default" in node or any(_has_defaults(v) for v in node.values())
    if isinstance(node, list):
        return any(_has_defaults(v) for v in node)
    return False


class CustomResourceStore(generic.Store):
    """Objects read from storage get the version's defaults (upstream defaults in the
    storage decoder too): an object written before a default existed reads with it."""

    def __init__(
        self,
        resource: scheme.Resource,
        backend: storage.Interface,
        strategy: CustomResourceStrategy,
        *,
        admit: list[generic.Admit] | None = None,
    ) -> None:
        super().__init__(resource, backend, strategy, admit=admit)
        self.version = strategy.version
        self.defaults = _has_defaults(strategy.version.schema)

    def check_field_selector(self, sel: selectors.FieldSelector) -> None:
        """``metadata.name``, ``metadata.namespace`` and the version's ``selectableFields``
        (the field label conversion upstream registers for custom resources)."""
        allowed = {"metadata.name", *self.resource.field_selectors}
        if self.resource.namespaced:
            allowed.add("metadata.namespace")
        for r in sel.requirements:
            if r.field not in allowed:
                raise errors.BadRequest(f"field label not supported: {r.field}")

    def _defaulted(self, obj: Obj) -> Obj:
        if self.defaults:
            structural.default(obj, self.version.schema)
        return obj

    async def get(self, namespace: str, name: str, *, resource_version: str = "") -> Obj:
        obj = await super().get(namespace, name, resource_version=resource_version)
        return self._defaulted(obj)

    async def get_json(self, namespace: str, name: str) -> bytes | None:
        return None if self.defaults else await super().get_json(namespace, name)

    async def list_json(self, namespace: str, opts: generic.ListOptions) -> bytes | None:
        return None  # items carry apiVersion and kind (below): decode them

    async def list(self, namespace: str, opts: generic.ListOptions, *, shared: bool = False) -> Obj:
        """Items keep ``apiVersion`` and ``kind``, as upstream's unstructured lists do."""
        listing = await super().list(namespace, opts, shared=shared)
        items = listing["items"]
        for i, item in enumerate(items):
            self._defaulted(item)  # idempotent: shared items may take them too
            if not shared:
                items[i] = {"apiVersion": self.resource.api_version, "kind": self.resource.kind,
                            **item}  # fmt: skip
        return listing

    async def watch(
        self, namespace: str, opts: generic.ListOptions, *, send_initial: bool | None = None
    ) -> AsyncIterator[generic.WatchEvent]:
        async for ev in super().watch(namespace, opts, send_initial=send_initial):
            if ev.type in ("ADDED", "MODIFIED", "DELETED"):
                self._defaulted(ev.object)
            yield ev
