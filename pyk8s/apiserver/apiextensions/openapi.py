"""OpenAPI definitions of custom resources, for ``/openapi/v2`` and ``/openapi/v3``.

Mirrors ``apiextensions-apiserver/pkg/controller/openapi/builder/builder.go``
(``BuildOpenAPIV3`` / ``BuildOpenAPIV2``): each served version's schema
becomes the definition ``<reversed group>.<version>.<Kind>`` with
``apiVersion``, ``kind`` and ``metadata`` (ObjectMeta) added and
``x-kubernetes-group-version-kind`` set, plus a ``<Kind>List``. The paths
come from the resource table like any other resource's. Definitions are in
the JSON Schema form of the built-in ones (``#/$defs/...`` references).
"""

from __future__ import annotations

import copy
from typing import Any

Obj = dict[str, Any]
META = "io.k8s.apimachinery.pkg.apis.meta.v1."
API_VERSION_DESCRIPTION = (
    "APIVersion defines the versioned schema of this representation of an object. Servers "
    "should convert recognized schemas to the latest internal value, and may reject "
    "unrecognized values. More info: https://git.k8s.io/community/contributors/devel/"
    "sig-architecture/api-conventions.md#resources"
)
KIND_DESCRIPTION = (
    "Kind is a string value representing the REST resource this object represents. Servers may "
    "infer this from the endpoint the client submits requests to. Cannot be updated. In "
    "CamelCase. More info: https://git.k8s.io/community/contributors/devel/"
    "sig-architecture/api-conventions.md#types-kinds"
)


def def_name(group: str, version: str, kind: str) -> str:
    """``com.example.stable.v1.CronTab`` for ``stable.example.com/v1`` ``CronTab``."""
    return ".".join(reversed(group.split("."))) + f".{version}.{kind}"


def _ref(name: str) -> Obj:
    return {"$ref": "#/$defs/" + name}


def definitions(group: str, version: str, kind: str, list_kind: str, schema: Obj | None) -> Obj:
    """The object and list definitions of one served version."""
    node: Obj = copy.deepcopy(schema) if schema else {"type": "object"}
    if not schema or (
        schema.get("x-kubernetes-preserve-unknown-fields") and not schema.get("properties")
    ):
        node.setdefault("x-kubernetes-preserve-unknown-fields", True)
    props = dict(node.get("properties") or {})
    props["apiVersion"] = {"type": "string", "description": API_VERSION_DESCRIPTION}
    props["kind"] = {"type": "string", "description": KIND_DESCRIPTION}
    md: Obj = {
        "description": "Standard object's metadata. More info: https://git.k8s.io/community/"
        "contributors/devel/sig-architecture/api-conventions.md#metadata",
        "allOf": [_ref(META + "ObjectMeta")],
    }
    props["metadata"] = md
    node["properties"] = dict(sorted(props.items()))
    node["type"] = "object"
    gvk = [{"group": group, "version": version, "kind": kind}]
    node["x-kubernetes-group-version-kind"] = gvk
    obj_name = def_name(group, version, kind)
    list_node: Obj = {
        "description": f"{list_kind} is a list of {kind}",
        "type": "object",
        "required": ["items"],
        "properties": {
            "apiVersion": {"type": "string", "description": API_VERSION_DESCRIPTION},
            "items": {
                "type": "array",
                "description": "List of "
                + (kind.lower() + "s")
                + ". More info: https://git.k8s.io/community/contributors/devel/"
                "sig-architecture/api-conventions.md",
                "items": _ref(obj_name),
            },
            "kind": {"type": "string", "description": KIND_DESCRIPTION},
            "metadata": {
                "description": "Standard list metadata. More info: https://git.k8s.io/"
                "community/contributors/devel/sig-architecture/api-conventions.md#types-kinds",
                "allOf": [_ref(META + "ListMeta")],
            },
        },
        "x-kubernetes-group-version-kind": [
            {"group": group, "version": version, "kind": list_kind}
        ],
    }
    return {obj_name: node, def_name(group, version, list_kind): list_node}
