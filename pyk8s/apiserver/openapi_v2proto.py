"""The ``/openapi/v2`` document as protobuf (gnostic ``openapi.v2.Document``).

kubectl asks for ``application/com.github.proto-openapi.spec.v2@v1.0+protobuf`` and
parses whatever 200 it gets as that message (``discovery_client.go``
``OpenAPISchema``); it reads the definitions (schemas with their
``x-kubernetes-group-version-kind``) for client-side validation of kinds whose
PATCH operation the v3 document does not list (``Binding``, the reviews) and for
``explain --output=plaintext-openapiv2``. The message types come from gnostic's
``OpenAPIv2.proto`` in the descriptor set ``hack/build-k8s-protos.sh`` builds.
"""

from __future__ import annotations

from typing import Any

import yaml
from google.protobuf import message_factory
from google.protobuf.message import Message

from pyk8s.apiserver import protobuf

MEDIA_TYPE = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"
"""What clients put in Accept."""
CONTENT_TYPE = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"
"""What the answer says it is (kube-openapi's ``ReturnedContentType``: no ``@``, which
Go's mime parser refuses)."""
PKG = "openapi.v2."


class Encoder:
    def __init__(self, codec: protobuf.Codec) -> None:
        pool = codec.pool
        self._cls = {
            name: message_factory.GetMessageClass(pool.FindMessageTypeByName(PKG + name))
            for name in ("Document", "Schema", "NamedSchema", "NamedAny", "Any", "Info")
        }

    @classmethod
    def create(cls, codec: protobuf.Codec | None) -> Encoder | None:
        if codec is None:
            return None
        try:
            return cls(codec)
        except KeyError:
            return None  # a descriptor set built before gnostic was part of it

    def _any(self, value: Any) -> Message:
        a = self._cls["Any"]()
        a.yaml = yaml.safe_dump(value, default_flow_style=True).strip()
        return a

    def _schema(self, node: dict[str, Any]) -> Message:
        s = self._cls["Schema"]()
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                s._ref = value
            elif key == "description" and isinstance(value, str):
                s.description = value
            elif key == "format" and isinstance(value, str):
                s.format = value
            elif key == "type":
                types = value if isinstance(value, list) else [value]
                s.type.value.extend(str(t) for t in types if t != "null")
            elif key == "required" and isinstance(value, list):
                s.required.extend(str(v) for v in value)
            elif key == "enum" and isinstance(value, list):
                for v in value:
                    if v is not None:
                        s.enum.append(self._any(v))
            elif key == "items" and isinstance(value, dict):
                s.items.schema.append(self._schema(value))
            elif key == "allOf" and isinstance(value, list):
                for v in value:
                    if isinstance(v, dict):
                        s.all_of.append(self._schema(v))
            elif key == "properties" and isinstance(value, dict):
                for name, prop in value.items():
                    if isinstance(prop, dict):
                        named = self._cls["NamedSchema"]()
                        named.name = name
                        named.value.CopyFrom(self._schema(prop))
                        s.properties.additional_properties.append(named)
            elif key == "additionalProperties":
                if isinstance(value, dict):
                    s.additional_properties.schema.CopyFrom(self._schema(value))
                elif isinstance(value, bool):
                    s.additional_properties.boolean = value
            elif key == "readOnly" and isinstance(value, bool):
                s.read_only = value
            elif key.startswith("x-"):
                ext = self._cls["NamedAny"]()
                ext.name = key
                ext.value.CopyFrom(self._any(value))
                s.vendor_extension.append(ext)
        return s

    def encode(self, doc: dict[str, Any]) -> bytes:
        d = self._cls["Document"]()
        d.swagger = str(doc.get("swagger", "2.0"))
        info = doc.get("info") or {}
        d.info.title = str(info.get("title", ""))
        d.info.version = str(info.get("version", ""))
        d.paths.SetInParent()
        for name, node in (doc.get("definitions") or {}).items():
            named = self._cls["NamedSchema"]()
            named.name = name
            named.value.CopyFrom(self._schema(node))
            d.definitions.additional_properties.append(named)
        data: bytes = d.SerializeToString()
        return data
