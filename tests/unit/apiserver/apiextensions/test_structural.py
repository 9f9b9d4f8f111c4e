"""Structural schema validation, pruning, defaulting and list types, and the CRD printer's
JSONPath, with upstream's messages and field paths."""

from __future__ import annotations

from typing import Any

from pyk8s.apiserver.apiextensions import names, structural, tableconvertor

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "spec": {
            "type": "object",
            "required": ["size"],
            "properties": {
                "size": {"type": "integer", "minimum": 1, "maximum": 5},
                "name": {"type": "string", "maxLength": 3, "pattern": "^[a-z]+$"},
                "when": {"type": "string", "format": "date-time"},
                "port": {"x-kubernetes-int-or-string": True},
                "opt": {"type": "string", "nullable": True},
                "mode": {"type": "string", "enum": ["a", "b"], "default": "a"},
                "items": {
                    "type": "array",
                    "maxItems": 2,
                    "x-kubernetes-list-type": "map",
                    "x-kubernetes-list-map-keys": ["id"],
                    "items": {
                        "type": "object",
                        "properties": {
                            "id": {"type": "string"},
                            "n": {"type": "integer", "default": 7},
                        },
                    },
                },
                "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                "raw": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                "embedded": {
                    "type": "object",
                    "x-kubernetes-embedded-resource": True,
                    "properties": {"spec": {"type": "object"}},
                },
            },
        }
    },
}


def messages(value: Any) -> list[str]:
    return [e.full() for e in structural.validate(value, SCHEMA)]


def test_valid_object_has_no_errors() -> None:
    obj = {"spec": {"size": 3, "name": "abc", "port": "http", "opt": None,
                    "when": "2024-01-02T03:04:05Z", "labels": {"a": "b"}}}  # fmt: skip
    assert messages(obj) == []


def test_type_enum_bounds_pattern_and_required() -> None:
    assert messages({"spec": {"size": "3"}}) == [
        'spec.size: Invalid value: "string": spec.size in body must be of type integer: "string"'
    ]
    assert messages({"spec": {}}) == ["spec.size: Required value"]
    assert messages({"spec": {"size": 9}}) == [
        "spec.size: Invalid value: 9: spec.size in body should be less than or equal to 5"
    ]
    assert messages({"spec": {"size": 0}}) == [
        "spec.size: Invalid value: 0: spec.size in body should be greater than or equal to 1"
    ]
    assert messages({"spec": {"size": 1, "mode": "c"}}) == [
        'spec.mode: Unsupported value: "c": supported values: "a", "b"'
    ]
    assert messages({"spec": {"size": 1, "name": "ABCD"}}) == [
        "spec.name: Too long: may not be more than 3 bytes",
        "spec.name: Invalid value: \"ABCD\": spec.name in body should match '^[a-z]+$'",
    ]
    assert messages({"spec": {"size": 1, "when": "yesterday"}}) == [
        'spec.when: Invalid value: "yesterday": spec.when in body must be of type date-time: '
        '"yesterday"'
    ]
    assert messages({"spec": {"size": 1, "port": 1.5}}) == [
        'spec.port: Invalid value: "number": spec.port in body must be of type '
        'integer,string: "number"'
    ]
    assert messages({"spec": {"size": 1, "name": None}}) == [
        'spec.name: Invalid value: "null": spec.name in body must be of type string: "null"'
    ]


def test_arrays_maps_and_embedded_resources() -> None:
    obj = {"spec": {"size": 1, "items": [{"id": "a"}, {"id": "b"}, {"id": "c"}],
                    "labels": {"x": 1}, "embedded": {"spec": {}}}}  # fmt: skip
    assert messages(obj) == [
        "spec.items: Too many: 3: must have at most 2 items",
        'spec.labels.x: Invalid value: "integer": spec.labels.x in body must be of type '
        'string: "integer"',
        "spec.embedded.kind: Required value: must not be empty",
        "spec.embedded.apiVersion: Required value: must not be empty",
    ]
    dup = {"spec": {"size": 1, "items": [{"id": "a"}, {"id": "a"}]}}
    assert [e.full() for e in structural.validate_list_types(dup, SCHEMA)] == [
        'spec.items[1]: Duplicate value: map[id:"a"]'
    ]


def test_pruning_keeps_what_the_schema_allows() -> None:
    obj = {
        "apiVersion": "x/v1",
        "kind": "X",
        "metadata": {"name": "n", "bogus": 1},
        "extra": 1,
        "spec": {"size": 1, "nope": 2, "items": [{"id": "a", "zz": 1}],
                 "raw": {"any": {"thing": 1}}, "labels": {"k": "v"},
                 "embedded": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
                              "spec": {}, "junk": 1}},
    }  # fmt: skip
    pruned = structural.prune(obj, SCHEMA)
    assert pruned == ["metadata.bogus", "extra", "spec.nope", "spec.items[0].zz",
                      "spec.embedded.junk"]  # fmt: skip
    assert obj["metadata"] == {"name": "n"}
    assert obj["spec"]["raw"] == {"any": {"thing": 1}}
    assert obj["spec"]["embedded"]["metadata"] == {"name": "p"}


def test_defaulting_fills_missing_and_null_fields() -> None:
    obj: dict[str, Any] = {"spec": {"size": 1, "mode": None, "items": [{"id": "a"}]}}
    structural.drop_nulls(obj, SCHEMA)
    structural.default(obj, SCHEMA)
    assert obj["spec"]["mode"] == "a"
    assert obj["spec"]["items"] == [{"id": "a", "n": 7}]
    assert "raw" not in obj["spec"]


def test_printer_jsonpath() -> None:
    obj = {"metadata": {"name": "x"}, "status": {"conditions": [
        {"type": "Ready", "status": "True"}, {"type": "Synced", "status": "False"}]},
        "spec": {"list": [1, 2], "flag": True}}  # fmt: skip
    printer = tableconvertor.printer([
        {"name": "Ready", "type": "string",
         "jsonPath": '.status.conditions[?(@.type=="Ready")].status'},
        {"name": "First", "type": "integer", "jsonPath": ".spec.list[0]"},
        {"name": "List", "type": "string", "jsonPath": ".spec.list"},
        {"name": "Flag", "type": "boolean", "jsonPath": ".spec.flag"},
        {"name": "Missing", "type": "string", "jsonPath": ".spec.none"},
    ])  # fmt: skip
    assert printer.row(obj) == ["x", "True", 1, "[1,2]", True, None]
    assert [c.name for c in tableconvertor.printer([]).columns] == ["Name", "Age"]


def crd(name: str, plural: str, kind: str, accepted: bool = False) -> dict[str, Any]:
    n = {"plural": plural, "singular": plural, "kind": kind, "listKind": kind + "List"}
    status: dict[str, Any] = {"acceptedNames": dict(n) if accepted else {}}
    return {"metadata": {"name": f"{name}.g.io"}, "spec": {"group": "g.io", "names": n},
            "status": status}  # fmt: skip


def test_naming_conditions() -> None:
    a = crd("as", "as", "A", accepted=True)
    b = crd("bs", "bs", "A")
    _, cond, est = names.calculate(b, [a, b])
    assert (cond["status"], cond["reason"]) == ("False", "ListKindConflict")
    assert cond["message"] == '"AList" is already in use'
    assert (est["status"], est["reason"]) == ("False", "NotAccepted")
    c = crd("cs", "cs", "C")
    out = names.reconcile(c, [a, c])
    assert out is not None
    conds = {x["type"]: x for x in out["status"]["conditions"]}
    assert conds["NamesAccepted"]["reason"] == "NoConflicts"
    assert conds["Established"]["status"] == "True"
    assert out["status"]["acceptedNames"]["plural"] == "cs"
    assert names.reconcile(out, [a, out]) is None


def test_non_structural_schemas_are_refused() -> None:
    from pyk8s.apiserver.apiextensions import crd

    schema = {
        "type": "object",
        "properties": {
            "a": {"type": "array"},
            "b": {"type": "array", "items": {}},
            "c": {"description": "no type"},
            "d": {"type": "object", "properties": {"x": {"type": "string"}},
                  "additionalProperties": False},
            "e": {"x-kubernetes-preserve-unknown-fields": True},
        },
    }  # fmt: skip
    p = "spec.versions[0].schema.openAPIV3Schema"
    got = [e.full() for e in crd.structural_errors(schema, p, crd.ROOT)]
    assert got == [
        f"{p}.properties[a].items: Required value: must be specified",
        f"{p}.properties[b].items.type: Required value: must not be empty for specified array "
        "items",
        f"{p}.properties[c].type: Required value: must not be empty for specified object fields",
        f"{p}.properties[d].additionalProperties: Forbidden: additionalProperties and properties "
        "are mutual exclusive",
    ]
    assert [e.full() for e in crd.structural_errors({"type": "string"}, p, crd.ROOT)] == [
        f'{p}.type: Invalid value: "string": must be object at the root'
    ]


def test_printer_columns_and_scale_paths_are_checked() -> None:
    from pyk8s.apiserver.apiextensions import crd

    p = "spec.versions[0]"
    cols = [{"name": "A", "type": "float", "jsonPath": "spec.a"}]
    assert [e.full() for e in crd._columns_errors(cols, p)] == [
        f'{p}.additionalPrinterColumns[0].type: Unsupported value: "float": supported values: '
        '"boolean", "date", "integer", "number", "string"',
        f'{p}.additionalPrinterColumns[0].jsonPath: Invalid value: "spec.a": must be a simple '
        "json path starting with .",
    ]
    scale = {"specReplicasPath": ".status.replicas", "statusReplicasPath": ".status.replicas"}
    assert [e.full() for e in crd._scale_errors(scale, p)] == [
        f'{p}.subresources.scale.specReplicasPath: Invalid value: ".status.replicas": should be '
        "a json path under .spec"
    ]
