"""The Kubernetes 1.33 object schemas, from the ``kubernetes-validate`` package's data.

Used for schema-driven behaviour (strategic merge patch metadata now; OpenAPI
documents and field validation in [openapi]). The package ships the
definitions of every release as JSON Schema with upstream's extensions
(``x-kubernetes-group-version-kind``, ``x-kubernetes-patch-strategy``,
``x-kubernetes-patch-merge-key``, ``x-kubernetes-list-type``...).

Loading reads a 1.4 MB file: call :meth:`Schemas.load` from a thread. The package is
found without being imported (importing it pulls in ``jsonschema``, ~0.1 s).
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from pyk8s.api import gojson, structuredmerge
from pyk8s.api.strategicpatch import Schema

RELEASE = "v1.33.0-local"


@dataclass
class Schemas:
    defs: dict[str, Any]
    enums: dict[str, Any] = field(default_factory=dict)
    """The OpenAPI documents' enum values (:mod:`pyk8s.apiserver.openapi_enums`), set by the
    server when they were built; the schemas in ``defs`` never carry them."""
    _by_gvk: dict[tuple[str, str, str], str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name, node in self.defs.items():
            for gvk in node.get("x-kubernetes-group-version-kind") or []:
                key = (gvk.get("group", ""), gvk.get("version", ""), gvk.get("kind", ""))
                self._by_gvk.setdefault(key, name)

    @classmethod
    def load(cls) -> Schemas | None:
        """The schemas of the emulated release, or None when the package is missing."""
        spec = importlib.util.find_spec("kubernetes_validate")
        if spec is None or not spec.submodule_search_locations:
            return None
        root = Path(next(iter(spec.submodule_search_locations)))
        path = root / "kubernetes-json-schema" / RELEASE / "_definitions.json"
        try:
            data = orjson.loads(path.read_bytes())
        except FileNotFoundError:
            return None
        return cls(data.get("$defs") or data.get("definitions") or {})

    def set_zero_fields(self, zero: dict[str, list[str]] | None) -> None:
        """Marks each definition with the properties its Go zero value holds (for
        managedFields, :data:`pyk8s.api.structuredmerge.ZERO_KEY`); None: not built."""
        if not zero:
            return
        for name, props in zero.items():
            node = self.defs.get(name)
            if isinstance(node, dict):
                node[structuredmerge.ZERO_KEY] = props

    def set_go_fields(self, codes: dict[str, dict[str, str]] | None) -> None:
        """Marks each definition with how Go's JSON encoding writes its properties
        (:data:`pyk8s.api.gojson.GO_KEY`); None: not built, objects are stored as sent."""
        if not codes:
            return
        for name, props in codes.items():
            node = self.defs.get(name)
            if isinstance(node, dict):
                node[gojson.GO_KEY] = props

    def def_name(self, group: str, version: str, kind: str) -> str | None:
        return self._by_gvk.get((group, version, kind))

    def for_kind(self, group: str, version: str, kind: str) -> Schema | None:
        name = self._by_gvk.get((group, version, kind))
        if name is None:
            return None
        return Schema(self.defs[name], self.defs)
