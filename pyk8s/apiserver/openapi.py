"""``/openapi/v3`` (and ``/openapi/v2``) built from the resource table and the 1.33 schemas.

Mirrors what kube-apiserver publishes (``k8s.io/kube-openapi`` handler3 and
handler, ``pkg/endpoints/openapi``): a v3 root index of one document per group
version (``serverRelativeURL`` with a content ``hash``), each document holding
the paths of its resources with ``x-kubernetes-action``,
``x-kubernetes-group-version-kind`` and the ``dryRun``, ``fieldManager`` and
``fieldValidation`` query parameters (kubectl checks the last one on PATCH to
decide that the server validates fields), and the schemas the kinds reach.
The v2 document is the same content in Swagger 2.0 form.
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Iterable
from typing import Any

import orjson

import pyk8s
from pyk8s.api import gojson, scheme, structuredmerge
from pyk8s.apiserver import openapi_enums
from pyk8s.apiserver.schemas import Schemas

Obj = dict[str, Any]
META = "io.k8s.apimachinery.pkg.apis.meta.v1."

_ACTION_WORD = {
    "get": "read",
    "list": "list",
    "post": "create",
    "put": "replace",
    "patch": "patch",
    "delete": "delete",
    "deletecollection": "deletecollection",
    "watch": "watch",
}


def _query(name: str, description: str, type_: str = "string") -> Obj:
    return {
        "name": name,
        "in": "query",
        "description": description,
        "schema": {"type": type_, "uniqueItems": True},
    }


DRY_RUN = _query("dryRun", "When present, indicates that modifications should not be persisted.")
FIELD_MANAGER = _query("fieldManager", "A name associated with the actor making these changes.")
FIELD_VALIDATION = _query(
    "fieldValidation",
    "Instructs the server how to handle objects in the request containing unknown or duplicate "
    "fields: Ignore, Warn (the default) or Strict.",
)
FORCE = _query("force", "Force is going to force Apply requests.", "boolean")
LIST_PARAMS = [
    _query("allowWatchBookmarks", "Request watch events with type BOOKMARK.", "boolean"),
    _query("continue", "The continue option from a previous paged list."),
    _query("fieldSelector", "A selector to restrict the list of returned objects by their fields."),
    _query("labelSelector", "A selector to restrict the list of returned objects by their labels."),
    _query("limit", "Maximum number of responses to return for a list call.", "integer"),
    _query("resourceVersion", "Constrains which resource versions the request may be served from."),
    _query("resourceVersionMatch", "How resourceVersion is applied to list calls."),
    _query("sendInitialEvents", "Start a watch with events of the current state.", "boolean"),
    _query("timeoutSeconds", "Timeout for the list/watch call.", "integer"),
    _query("watch", "Watch for changes to the described resources.", "boolean"),
]  # fmt: skip


def _camel(group: str, version: str) -> str:
    if not group:
        return "Core" + version.capitalize()
    words = group.replace(".k8s.io", "").replace(".", "-").split("-")
    return "".join(w.capitalize() for w in words) + version.capitalize()


def _def_name(schemas: Schemas, r: scheme.Resource, kind: str | None = None) -> str | None:
    return schemas.def_name(r.group if kind is None else "", r.version, kind or r.kind)


class Builder:
    """Builds and caches the documents; every method is pure CPU (call from a thread)."""

    def __init__(
        self,
        table: scheme.Scheme,
        schemas: Schemas,
        custom: Iterable[scheme.Resource] = (),
    ) -> None:
        self.table = table
        self.schemas = schemas
        # custom resources: their PATCH consumes no strategic merge patch (apiextensions'
        # builder.go), which is how kubectl apply knows to send them a JSON merge patch
        self.custom = frozenset((r.group, r.version, r.plural) for r in custom)
        self._v3: dict[str, bytes] = {}

    # -- v3

    def gv_key(self, group: str, version: str) -> str:
        return f"apis/{group}/{version}" if group else f"api/{version}"

    def v3_document(self, group: str, version: str) -> bytes | None:
        key = self.gv_key(group, version)
        if key in self._v3:
            return self._v3[key]
        resources = self.table.in_group_version(group, version)
        if not resources:
            return None
        paths, roots = self._paths(group, version, resources)
        doc = {
            "openapi": "3.0.0",
            "info": {"title": "Kubernetes", "version": pyk8s.KUBERNETES_VERSION},
            "paths": paths,
            "components": {"schemas": self._components(roots, "#/components/schemas/")},
        }
        data = orjson.dumps(doc)
        self._v3[key] = data
        return data

    def v3_root(self) -> bytes:
        paths: Obj = {}
        for gv in self.table.group_versions():
            data = self.v3_document(gv.group, gv.version)
            if data is None:
                continue
            key = self.gv_key(gv.group, gv.version)
            digest = hashlib.sha512(data).hexdigest().upper()
            paths[key] = {"serverRelativeURL": f"/openapi/v3/{key}?hash={digest}"}
        return orjson.dumps({"paths": paths})

    def _ref(self, name: str | None) -> Obj:
        if name is None:
            return {"type": "object"}
        return {"$ref": f"#/components/schemas/{name}"}

    def _op(
        self,
        r: scheme.Resource,
        action: str,
        method: str,
        *,
        sub: str = "",
        kind_def: str | None,
        all_namespaces: bool = False,
    ) -> Obj:
        word = _ACTION_WORD[action]
        scope = "Namespaced" if r.namespaced and not all_namespaces else ""
        suffix = "ForAllNamespaces" if all_namespaces else ""
        op_id = f"{word}{_camel(r.group, r.version)}{scope}{r.kind}{sub.capitalize()}{suffix}"
        op: Obj = {
            "tags": [_camel(r.group, r.version).lower()],
            "description": f"{word} {r.kind}{' ' + sub if sub else ''}",
            "operationId": op_id,
            "responses": {
                "200": {
                    "description": "OK",
                    "content": {"application/json": {"schema": self._ref(kind_def)}},
                },
                "401": {"description": "Unauthorized"},
            },
            "x-kubernetes-action": action,
            "x-kubernetes-group-version-kind": {
                "group": r.group,
                "version": r.version,
                "kind": r.kind,
            },
        }
        params: list[Obj] = []
        if method in ("post", "put", "patch"):
            params += [DRY_RUN, FIELD_MANAGER, FIELD_VALIDATION]
            if method == "patch":
                params.append(FORCE)
                types = [
                    "application/apply-patch+yaml",
                    "application/json-patch+json",
                    "application/merge-patch+json",
                ]
                if (r.group, r.version, r.plural) not in self.custom:
                    types.append("application/strategic-merge-patch+json")
                op["requestBody"] = {
                    "content": {t: {"schema": self._ref(META + "Patch")} for t in types},
                    "required": True,
                }
            else:
                op["requestBody"] = {
                    "content": {"*/*": {"schema": self._ref(kind_def)}},
                    "required": True,
                }
        elif method == "delete":
            params.append(DRY_RUN)
            if action == "deletecollection":
                params += LIST_PARAMS
        elif action == "list":
            params += LIST_PARAMS
        if params:
            op["parameters"] = params
        return op

    def _paths(
        self, group: str, version: str, resources: Iterable[scheme.Resource]
    ) -> tuple[Obj, set[str]]:
        prefix = f"/apis/{group}/{version}" if group else f"/api/{version}"
        paths: Obj = {}
        roots: set[str] = {META + "Status", META + "DeleteOptions", META + "Patch"}
        name_param = {
            "name": "name",
            "in": "path",
            "required": True,
            "schema": {"type": "string", "uniqueItems": True},
        }
        ns_param = {
            "name": "namespace",
            "in": "path",
            "required": True,
            "schema": {"type": "string", "uniqueItems": True},
        }
        for r in resources:
            kind_def = _def_name(self.schemas, r)
            list_def = self.schemas.def_name(r.group, r.version, r.list_kind)
            for d in (kind_def, list_def):
                if d is not None:
                    roots.add(d)
            base = (
                f"{prefix}/namespaces/{{namespace}}/{r.plural}"
                if r.namespaced
                else (f"{prefix}/{r.plural}")
            )
            path_params = [ns_param] if r.namespaced else []
            collection: Obj = {}
            if "list" in r.verbs:
                collection["get"] = self._op(r, "list", "get", kind_def=list_def)
            if "create" in r.verbs:
                collection["post"] = self._op(r, "post", "post", kind_def=kind_def)
            if "deletecollection" in r.verbs:
                collection["delete"] = self._op(
                    r, "deletecollection", "delete", kind_def=META + "Status"
                )
            if collection:
                collection["parameters"] = list(path_params)
                paths[base] = collection
            if r.namespaced and "list" in r.verbs:
                paths[f"{prefix}/{r.plural}"] = {
                    "get": self._op(r, "list", "get", kind_def=list_def, all_namespaces=True)
                }
            item: Obj = {}
            for verb, method, action in (
                ("get", "get", "get"),
                ("update", "put", "put"),
                ("patch", "patch", "patch"),
                ("delete", "delete", "delete"),
            ):
                if verb in r.verbs:
                    item[method] = self._op(r, action, method, kind_def=kind_def)
            if item:
                item["parameters"] = [name_param, *path_params]
                paths[f"{base}/{{name}}"] = item
            for s in r.subresources:
                sub_def = (
                    self.schemas.def_name(s.group or r.group, s.version or r.version, s.kind)
                    or kind_def
                )
                if sub_def is not None:
                    roots.add(sub_def)
                ops: Obj = {}
                for verb, method, action in (
                    ("get", "get", "get"),
                    ("update", "put", "put"),
                    ("patch", "patch", "patch"),
                    ("create", "post", "post"),
                    ("delete", "delete", "delete"),
                ):
                    if verb in s.verbs:
                        ops[method] = self._op(r, action, method, sub=s.name, kind_def=sub_def)
                if ops:
                    ops["parameters"] = [name_param, *path_params]
                    paths[f"{base}/{{name}}/{s.name}"] = ops
        return paths, roots

    def _components(self, roots: set[str], ref_prefix: str) -> Obj:
        out: Obj = {}
        todo = sorted(roots)
        while todo:
            name = todo.pop()
            if name in out or name not in self.schemas.defs:
                continue
            node = _rewrite_refs(self.schemas.defs[name], ref_prefix, todo)
            _drop_type_enums(node)
            out[name] = node
        openapi_enums.apply(out, self.schemas.enums)
        return dict(sorted(out.items()))

    # -- v2

    def v2_document(self) -> bytes:
        if "v2" in self._v3:
            return self._v3["v2"]
        paths: Obj = {}
        roots: set[str] = set()
        for gv in self.table.group_versions():
            p, r = self._paths(
                gv.group, gv.version, self.table.in_group_version(gv.group, gv.version)
            )
            roots |= r
            for path, item in p.items():
                paths[path] = _v2_path_item(item)
        doc = {
            "swagger": "2.0",
            "info": {"title": "Kubernetes", "version": pyk8s.KUBERNETES_VERSION},
            "paths": paths,
            "definitions": self._components(roots, "#/definitions/"),
        }
        data = orjson.dumps(doc)
        self._v3["v2"] = data
        return data


def _rewrite_refs(node: Any, prefix: str, found: list[str]) -> Any:
    """JSON Schema -> OpenAPI: refs into ``prefix``; ``["t", "null"]`` types to ``"t"``;
    a ``oneOf`` of bare types (IntOrString, Quantity): in v2 one string type, in v3 that
    ``oneOf`` (``OpenAPIV3OneOfTypes``), as upstream publishes them."""
    if isinstance(node, dict):
        out: Obj = {}
        one_of = node.get("oneOf")
        if (
            isinstance(one_of, list)
            and one_of
            and all(isinstance(o, dict) and set(o) == {"type"} for o in one_of)
        ):
            types = [t for o in one_of for t in _types(o["type"])]
            node = {k: v for k, v in node.items() if k != "oneOf"}
            if prefix == "#/definitions/":
                node["type"] = "string"
            else:
                order = ["integer", "string"] if "integer" in types else types
                node["oneOf"] = [{"type": t} for t in order]
            if "integer" in types:
                node["format"] = "int-or-string"
        for k, v in node.items():
            if k in (structuredmerge.ZERO_KEY, gojson.GO_KEY):
                continue  # the server's own annotations, not upstream's
            if k in ("properties", "patternProperties") and isinstance(v, dict):
                # Property names are not keywords: a property may be called "type".
                out[k] = {pk: _rewrite_refs(pv, prefix, found) for pk, pv in v.items()}
                continue
            if k == "type":
                ts = _types(v)
                out[k] = ts[0] if len(ts) == 1 else ts
                continue
            if k == "$ref" and isinstance(v, str) and v.startswith("#/$defs/"):
                name = v[len("#/$defs/") :]
                found.append(name)
                out[k] = prefix + name
            else:
                out[k] = _rewrite_refs(v, prefix, found)
        return out
    if isinstance(node, list):
        return [_rewrite_refs(v, prefix, found) for v in node]
    return node


def _drop_type_enums(node: Obj) -> None:
    """kubernetes-validate pins ``apiVersion`` and ``kind`` with an ``enum`` (for its own
    validation); upstream's documents have none, and ``kubectl explain`` would print it."""
    props = node.get("properties")
    if isinstance(props, dict):
        for key in ("apiVersion", "kind"):
            prop = props.get(key)
            if isinstance(prop, dict) and "enum" in prop:
                props[key] = {k: v for k, v in prop.items() if k != "enum"}


def _types(v: Any) -> list[str]:
    if isinstance(v, str):
        return [v]
    if isinstance(v, list):
        ts = [t for t in v if isinstance(t, str) and t != "null"]
        return ts or ["null"]
    return ["object"]


def _v2_ref(schema: Any) -> Any:
    if isinstance(schema, dict) and "$ref" in schema:
        return {"$ref": schema["$ref"].replace("#/components/schemas/", "#/definitions/")}
    return copy.deepcopy(schema)


def _v2_param(p: Obj) -> Obj:
    out = {k: v for k, v in p.items() if k != "schema"}
    out["type"] = (p.get("schema") or {}).get("type", "string")
    out["uniqueItems"] = True
    return out


def _v2_path_item(item: Obj) -> Obj:
    out: Obj = {}
    for method, op in item.items():
        if method == "parameters":
            out["parameters"] = [_v2_param(p) for p in op]
            continue
        v2: Obj = {
            k: v for k, v in op.items() if k not in ("requestBody", "responses", "parameters")
        }
        params = [_v2_param(p) for p in op.get("parameters") or []]
        body = op.get("requestBody")
        if body:
            schema = next(iter(body["content"].values()))["schema"]
            params.append(
                {"name": "body", "in": "body", "required": True, "schema": _v2_ref(schema)}
            )
            v2["consumes"] = list(body["content"])
        if params:
            v2["parameters"] = params
        ok = op["responses"]["200"]["content"]["application/json"]["schema"]
        v2["produces"] = ["application/json", "application/yaml"]
        v2["responses"] = {"200": {"description": "OK", "schema": _v2_ref(ok)}}
        v2["schemes"] = ["https"]
        out[method] = v2
    return out
