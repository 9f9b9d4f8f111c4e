"""The CustomResourceDefinition resource: its defaults, validation, status and deletion.

Mirrors ``apiextensions-apiserver/pkg/apis/apiextensions/v1/defaults.go``
(singular, listKind, conversion strategy ``None``),
``pkg/apis/apiextensions/validation/validation.go`` (the checks clients meet
first: the name is ``<plural>.<group>``, one storage version, a schema per
version, stored versions still listed), ``pkg/registry/customresourcedefinition/
strategy.go`` (status starts empty and ``storedVersions`` gains the storage
version) and ``etcd.go`` (``Delete`` adds the ``customresourcecleanup``
finalizer and the ``Terminating`` condition, so instances go first).
"""

from __future__ import annotations

import copy
import re
from typing import Any

from pyk8s.api import errors, meta
from pyk8s.api.errors import FieldError
from pyk8s.apiserver.apiextensions import names
from pyk8s.apiserver.registry.generic import store as generic
from pyk8s.apiserver.registry.generic.strategy import Obj, StatusStrategy, Strategy
from pyk8s.storage import interface as storage

CLEANUP_FINALIZER = "customresourcecleanup.apiextensions.k8s.io"
_VERSION = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def storage_version(crd: Obj) -> str:
    for v in (crd.get("spec") or {}).get("versions") or []:
        if v.get("storage"):
            return str(v.get("name", ""))
    return ""


def apply_defaults(crd: Obj) -> None:
    spec = crd.get("spec")
    if not isinstance(spec, dict):
        return
    n = spec.get("names")
    if isinstance(n, dict) and n.get("kind"):
        if not n.get("singular"):
            n["singular"] = str(n["kind"]).lower()
        if not n.get("listKind"):
            n["listKind"] = f"{n['kind']}List"
    conv = spec.get("conversion")
    if not isinstance(conv, dict):
        spec["conversion"] = {"strategy": "None"}
    elif conv.get("strategy") == "Webhook":
        svc = ((conv.get("webhook") or {}).get("clientConfig") or {}).get("service")
        if isinstance(svc, dict) and svc.get("port") is None:
            svc["port"] = 443


def _validate_spec(crd: Obj) -> list[FieldError]:
    errs: list[FieldError] = []
    spec = crd.get("spec")
    if not isinstance(spec, dict):
        return [errors.required("spec")]
    group = spec.get("group") or ""
    n: Obj = spec["names"] if isinstance(spec.get("names"), dict) else {}
    plural = n.get("plural") or ""
    name = (crd.get("metadata") or {}).get("name", "")
    if name != f"{plural}.{group}":
        errs.append(
            errors.invalid_value("metadata.name", name, 'must be spec.names.plural+"."+spec.group')
        )
    if not group:
        errs.append(errors.required("spec.group"))
    elif "." not in group:
        errs.append(
            errors.invalid_value("spec.group", group, "should be a domain with at least one dot")
        )
    else:
        errs += [
            errors.invalid_value("spec.group", group, m) for m in meta.dns1123_subdomain(group)
        ]
    scope = spec.get("scope")
    if not scope:
        errs.append(errors.required("spec.scope"))
    elif scope not in ("Cluster", "Namespaced"):
        errs.append(errors.not_supported("spec.scope", scope, ["Cluster", "Namespaced"]))
    for key in ("plural", "singular", "kind", "listKind"):
        value = n.get(key) or ""
        path = f"spec.names.{key}"
        if not value:
            errs.append(errors.required(path))
            continue
        if key in ("plural", "singular"):
            errs += [errors.invalid_value(path, value, m) for m in meta.dns1035_label(value)]
    for i, short in enumerate(n.get("shortNames") or []):
        errs += [
            errors.invalid_value(f"spec.names.shortNames[{i}]", short, m)
            for m in meta.dns1035_label(str(short))
        ]
    if spec.get("preserveUnknownFields"):
        errs.append(
            errors.invalid_value(
                "spec.preserveUnknownFields",
                True,
                "cannot set to true, set x-kubernetes-preserve-unknown-fields to true in "
                "spec.versions[*].schema instead",
            )
        )
    versions = spec.get("versions")
    if not isinstance(versions, list) or not versions:
        errs.append(
            errors.invalid_value(
                "spec.versions", None, "must have exactly one version marked as storage version"
            )
        )
        return errs
    storage_count = 0
    seen: set[str] = set()
    for i, v in enumerate(versions):
        path = f"spec.versions[{i}]"
        vname = v.get("name") or ""
        if not vname:
            errs.append(errors.required(f"{path}.name"))
        elif not _VERSION.match(vname):
            errs.append(
                errors.invalid_value(
                    f"{path}.name",
                    vname,
                    "a DNS-1035 label must consist of lower case "
                    "alphanumeric characters or '-', start with an alphabetic character, and end "
                    "with an alphanumeric character",
                )
            )
        if vname in seen:
            errs.append(FieldError("FieldValueDuplicate", f"{path}.name", "", vname))
        seen.add(vname)
        if v.get("storage"):
            storage_count += 1
        errs += _columns_errors(v.get("additionalPrinterColumns") or [], path)
        errs += _scale_errors((v.get("subresources") or {}).get("scale"), path)
        schema = (v.get("schema") or {}).get("openAPIV3Schema")
        if not isinstance(schema, dict):
            errs.append(errors.required(f"{path}.schema.openAPIV3Schema", "schemas are required"))
        else:
            errs += structural_errors(schema, f"{path}.schema.openAPIV3Schema", ROOT)
    if storage_count != 1:
        errs.append(
            errors.invalid_value(
                "spec.versions",
                errors.Raw("[]apiextensions.CustomResourceDefinitionVersion{...}"),
                "must have exactly one version marked as storage version",
            )
        )
    if not any(v.get("served") for v in versions):
        errs.append(
            errors.invalid_value(
                "spec.versions",
                errors.Raw("[]apiextensions.CustomResourceDefinitionVersion{...}"),
                "must have at least one version served",
            )
        )
    return errs


COLUMN_TYPES = ["boolean", "date", "integer", "number", "string"]
_SIMPLE_PATH = re.compile(r"^(\.[A-Za-z0-9_\-$@]+|\[[^\]]*\])+$")


def _columns_errors(columns: list[Any], path: str) -> list[FieldError]:
    """``ValidateCustomResourceColumnDefinition``: a name, a known type, a JSONPath."""
    errs: list[FieldError] = []
    for i, c in enumerate(columns):
        p = f"{path}.additionalPrinterColumns[{i}]"
        if not isinstance(c, dict):
            continue
        if not c.get("name"):
            errs.append(errors.required(f"{p}.name"))
        if not c.get("type"):
            errs.append(errors.required(f"{p}.type"))
        elif c["type"] not in COLUMN_TYPES:
            errs.append(errors.not_supported(f"{p}.type", c["type"], COLUMN_TYPES))
        jp = c.get("jsonPath")
        if not jp:
            errs.append(errors.required(f"{p}.jsonPath"))
        elif not str(jp).startswith("."):
            errs.append(
                errors.invalid_value(
                    f"{p}.jsonPath", jp, "must be a simple json path starting with ."
                )
            )
    return errs


def _scale_errors(scale: Any, path: str) -> list[FieldError]:
    """``ValidateCustomResourceDefinitionSubresources``: scale paths under .spec / .status."""
    if not isinstance(scale, dict):
        return []
    errs: list[FieldError] = []
    p = f"{path}.subresources.scale"
    for key, root in (("specReplicasPath", ".spec."), ("statusReplicasPath", ".status.")):
        value = scale.get(key)
        if not value:
            errs.append(errors.required(f"{p}.{key}"))
        elif not _SIMPLE_PATH.match(value):
            errs.append(errors.invalid_value(f"{p}.{key}", value, "must be a valid JSON path"))
        elif not value.startswith(root):
            errs.append(
                errors.invalid_value(
                    f"{p}.{key}", value, f"should be a json path under {root.rstrip('.')}"
                )
            )
    sel = scale.get("labelSelectorPath")
    if sel and not (sel.startswith(".spec.") or sel.startswith(".status.")):
        errs.append(
            errors.invalid_value(
                f"{p}.labelSelectorPath", sel, "should be a json path under either .spec or .status"
            )
        )
    return errs


ROOT, FIELD, ITEM = "root", "field", "item"
_EMPTY_TYPE = {
    ROOT: "must not be empty at the root",
    FIELD: "must not be empty for specified object fields",
    ITEM: "must not be empty for specified array items",
}


def structural_errors(node: Any, path: str, level: str) -> list[FieldError]:
    """``schema/validation.go``: what makes a schema non-structural (v1 CRDs must be)."""
    if not isinstance(node, dict):
        return []
    errs: list[FieldError] = []
    t = node.get("type")
    if "$ref" in node:
        errs.append(errors.forbidden(f"{path}.$ref", "$ref is not supported"))
    if node.get("x-kubernetes-embedded-resource") and t != "object":
        if not t:
            errs.append(
                errors.required(
                    f"{path}.type", "must be object if x-kubernetes-embedded-resource is true"
                )
            )
        else:
            errs.append(
                errors.invalid_value(
                    f"{path}.type", t, "must be object if x-kubernetes-embedded-resource is true"
                )
            )
    elif (
        not t
        and not node.get("x-kubernetes-int-or-string")
        and not node.get("x-kubernetes-preserve-unknown-fields")
    ):
        errs.append(errors.required(f"{path}.type", _EMPTY_TYPE[level]))
    if level == ROOT and t and t != "object":
        errs.append(errors.invalid_value(f"{path}.type", t, "must be object at the root"))
    if t == "array" and "items" not in node:
        errs.append(errors.required(f"{path}.items", "must be specified"))
    if node.get("properties") and "additionalProperties" in node:
        errs.append(
            errors.forbidden(
                f"{path}.additionalProperties",
                "additionalProperties and properties are mutual exclusive",
            )
        )
    if node.get("uniqueItems") is True:
        errs.append(
            errors.forbidden(
                f"{path}.uniqueItems",
                "uniqueItems cannot be set to true since the runtime complexity becomes quadratic",
            )
        )
    for key, sub in (node.get("properties") or {}).items():
        errs += structural_errors(sub, f"{path}.properties[{key}]", FIELD)
    errs += structural_errors(node.get("items"), f"{path}.items", ITEM)
    extra = node.get("additionalProperties")
    if isinstance(extra, dict):
        errs += structural_errors(extra, f"{path}.additionalProperties", FIELD)
    return errs


def _validate_status(crd: Obj) -> list[FieldError]:
    errs: list[FieldError] = []
    listed = {v.get("name") for v in (crd.get("spec") or {}).get("versions") or []}
    stored = (crd.get("status") or {}).get("storedVersions") or []
    for i, v in enumerate(stored):
        if v not in listed:
            errs.append(
                errors.invalid_value(
                    f"status.storedVersions[{i}]", v, "must appear in spec.versions"
                )
            )
    return errs


def _add_stored_version(crd: Obj) -> None:
    sv = storage_version(crd)
    if not sv:
        return
    status = crd.setdefault("status", {})
    stored = list(status.get("storedVersions") or [])
    if sv not in stored:
        stored.append(sv)
    status["storedVersions"] = stored


class CRDStrategy(Strategy):
    def default(self, obj: Obj) -> None:
        apply_defaults(obj)

    def prepare_for_create(self, obj: Obj) -> None:
        super().prepare_for_create(obj)
        obj["status"] = {
            "conditions": [],
            "acceptedNames": {"plural": "", "kind": ""},
            "storedVersions": [],
        }
        _add_stored_version(obj)

    def prepare_for_update(self, obj: Obj, old: Obj) -> None:
        super().prepare_for_update(obj, old)
        _add_stored_version(obj)

    def validate(self, obj: Obj) -> list[FieldError]:
        errs = meta.validate_object_meta(
            obj, namespaced=False, name_validator=meta.dns1123_subdomain
        )
        return errs + _validate_spec(obj)

    def validate_update(self, obj: Obj, old: Obj) -> list[FieldError]:
        errs = self.validate_meta_update(obj, old)
        errs += _validate_spec(obj)
        if (obj.get("spec") or {}).get("scope") != (old.get("spec") or {}).get("scope") and (
            names.is_true(old, names.ESTABLISHED)
        ):
            errs.append(
                errors.invalid_value(
                    "spec.scope", (obj.get("spec") or {}).get("scope"), "field is immutable"
                )
            )
        return errs + _validate_status(obj)


class CRDStatusStrategy(StatusStrategy):
    """Status updates may also change finalizers (the finalizer controller removes its own
    through ``/status``, as upstream's)."""

    def prepare_for_update(self, obj: Obj, old: Obj) -> None:
        fins = (obj.get("metadata") or {}).get("finalizers")
        super().prepare_for_update(obj, old)
        md = meta.metadata(obj)
        if fins:
            md["finalizers"] = list(fins)
        else:
            md.pop("finalizers", None)

    def validate_update(self, obj: Obj, old: Obj) -> list[FieldError]:
        return _validate_status(obj)


class CRDStore(generic.Store):
    """Deleting a CRD marks it Terminating with the cleanup finalizer; the registry's
    finalizer loop deletes its instances, then the finalizer."""

    async def delete(
        self, namespace: str, name: str, opts: generic.DeleteOptions
    ) -> tuple[Obj, bool]:
        key = self.resource.key(namespace, name)
        if not opts.dry_run:
            try:
                current = await self.storage.get(key)
            except storage.KeyNotFoundError:
                raise self._not_found(name) from None
            crd = generic.decode(current)
            fins = (crd.get("metadata") or {}).get("finalizers") or []
            if CLEANUP_FINALIZER not in fins and not crd["metadata"].get("deletionTimestamp"):
                await self._mark_terminating(key, name, crd, opts)
        return await super().delete(namespace, name, opts)

    async def _mark_terminating(
        self, key: str, name: str, crd: Obj, opts: generic.DeleteOptions
    ) -> None:
        uid = crd["metadata"].get("uid")
        if opts.precondition_uid is not None and opts.precondition_uid != uid:
            return  # super().delete answers the conflict
        if opts.precondition_rv is not None and opts.precondition_rv != crd["metadata"].get(
            "resourceVersion"
        ):
            return

        async def try_update(cur: storage.KeyValue) -> bytes | None:
            obj = self._with_type(generic.decode(cur))
            md = obj["metadata"]
            fins = list(md.get("finalizers") or [])
            if CLEANUP_FINALIZER in fins:
                return None
            md["finalizers"] = [*fins, CLEANUP_FINALIZER]
            names.set_condition(
                obj,
                {
                    "type": names.TERMINATING,
                    "status": "True",
                    "reason": "InstanceDeletionPending",
                    "message": "CustomResourceDefinition marked for deletion; CustomResource "
                    "deletion will begin soon",
                },
            )
            return generic.encode(obj)

        try:
            await self.storage.guaranteed_update(
                key, try_update, preconditions=storage.Preconditions(uid=uid)
            )
        except storage.KeyNotFoundError:
            raise self._not_found(name) from None
        except storage.PreconditionError:
            raise self._conflict(name) from None


def served_versions(crd: Obj) -> list[Obj]:
    return [
        copy.deepcopy(v) for v in (crd.get("spec") or {}).get("versions") or [] if v.get("served")
    ]
