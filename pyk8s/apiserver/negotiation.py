"""Content negotiation: which encoding a client accepts, and decoding request bodies.

Mirrors k8s.io/apiserver ``pkg/endpoints/handlers/negotiation`` (``Accept``
entries with ``as=``, ``g=``, ``v=`` parameters choose Table,
PartialObjectMetadata or aggregated discovery) and ``runtime/serializer``
(JSON, YAML; protobuf bodies go to ``apiserver.protobuf``). PyYAML and the protobuf
runtime are imported on the first body that needs them, not at start-up.
"""

from __future__ import annotations

import enum
import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson

from pyk8s.api import errors
from pyk8s.apiserver import decodeerrors

if TYPE_CHECKING:
    from pyk8s.apiserver import protobuf

JSON = "application/json"
YAML = "application/yaml"
PROTOBUF = "application/vnd.kubernetes.protobuf"


class Output(enum.Enum):
    JSON = "json"
    YAML = "yaml"
    TABLE = "table"
    PARTIAL = "partial"
    DISCOVERY = "discovery"


@dataclass(frozen=True)
class MediaType:
    type: str
    params: dict[str, str]

    @property
    def as_(self) -> str:
        return self.params.get("as", "")


@dataclass(frozen=True)
class Target:
    output: Output
    version: str = "v1"
    """meta.k8s.io version for Table/PartialObjectMetadata, apidiscovery version for discovery."""
    list_: bool | None = None
    """For PartialObjectMetadata: whether the List form was asked for."""


def parse_accept(header: str | None) -> list[MediaType]:
    if not header:
        return [MediaType("*/*", {})]
    out: list[MediaType] = []
    for raw in header.split(","):
        item = raw.strip()
        if not item:
            continue
        parts = [p.strip() for p in item.split(";")]
        params: dict[str, str] = {}
        for p in parts[1:]:
            k, _, v = p.partition("=")
            params[k.strip().lower()] = v.strip().strip('"')
        if params.get("q") == "0":
            continue
        out.append(MediaType(parts[0].lower(), params))
    return out


def _is_json(t: str) -> bool:
    return t in (JSON, "*/*", "application/*")


def choose(header: str | None, *, allow_table: bool, discovery: bool = False) -> Target:
    """The first Accept entry we can produce; 406 NotAcceptable when none."""
    for mt in parse_accept(header):
        as_ = mt.as_
        if as_:
            group = mt.params.get("g", "")
            version = mt.params.get("v", "")
            if not _is_json(mt.type):
                continue
            if as_ == "APIGroupDiscoveryList" and discovery and group == "apidiscovery.k8s.io":
                if version in ("v2", "v2beta1"):
                    return Target(Output.DISCOVERY, version)
                continue
            if group != "meta.k8s.io" or version not in ("v1", "v1beta1"):
                continue
            if as_ == "Table":
                if allow_table:
                    return Target(Output.TABLE, version)
                continue
            if as_ in ("PartialObjectMetadata", "PartialObjectMetadataList"):
                return Target(Output.PARTIAL, version, as_ == "PartialObjectMetadataList")
            continue
        if _is_json(mt.type):
            return Target(Output.JSON)
        if mt.type in (YAML, "application/*+yaml", "text/yaml"):
            return Target(Output.YAML)
    raise errors.NotAcceptable(
        "only the following media types are accepted: application/json, application/yaml, "
        "application/json;as=Table;v=v1;g=meta.k8s.io"
    )


class DecodeError(errors.BadRequest):
    """A body that is not JSON (or YAML): the message is the decoder's own words, which
    create and update put behind ``the object provided is unrecognized``."""


def decode(body: bytes, content_type: str | None, codec: protobuf.Codec | None = None) -> Any:
    """The request body as JSON-shaped data; 400 for garbage, 415 for unknown encodings."""
    media = (content_type or JSON).split(";")[0].strip().lower()
    if media in (
        JSON,
        "application/merge-patch+json",
        "application/json-patch+json",
        "application/strategic-merge-patch+json",
        "*/*",
        "",
    ):
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError as e:
            raise DecodeError(decodeerrors.json_error(body)) from e
    if media in (YAML, "application/apply-patch+yaml", "text/yaml", "application/x-yaml"):
        yaml, loader, _ = _yaml()
        try:
            return yaml.load(body, Loader=loader)
        except yaml.YAMLError as e:
            raise DecodeError(decodeerrors.yaml_error(e)) from e
    if media == PROTOBUF:
        if codec is None:
            from pyk8s.apiserver import protobuf

            raise protobuf.unavailable()
        return codec.decode(body)
    raise errors.UnsupportedMediaType(
        f"the body of the request was in an unknown format - accepted media types include: "
        f"{JSON}, {YAML}, {PROTOBUF}"
    )


@functools.cache
def _yaml() -> tuple[Any, Any, Any]:
    """PyYAML, its (C when built) safe loader and dumper; imported on first use."""
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    return yaml, loader, dumper


def encode_yaml(obj: Any) -> bytes:
    yaml, _, dumper = _yaml()
    out: str = yaml.dump(obj, Dumper=dumper, sort_keys=False, allow_unicode=True)
    return out.encode()
