"""The runtime's records on disk: one JSON file per sandbox and per container.

A restarted kubelet builds a new runtime object over the same directory and finds every
sandbox and container again (adoption), as containerd does from its metadata store
(``internal/cri/server/restart.go`` ``recover``). Records are written atomically.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import os
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

from pyk8s.kubelet.runtime.interface import ContainerConfig, PodSandboxConfig

T = TypeVar("T")


def to_jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, Mapping):
        return {k: to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    return value


def from_jsonable(tp: Any, value: Any) -> Any:
    """Rebuild a value of type ``tp`` (dataclass, tuple, Mapping, Optional, enum, scalar)."""
    origin = typing.get_origin(tp)
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        hints = typing.get_type_hints(tp)
        return tp(
            **{
                f.name: from_jsonable(hints[f.name], value[f.name])
                for f in dataclasses.fields(tp)
                if f.name in value
            }
        )
    if origin in (types.UnionType, typing.Union):
        if value is None:
            return None
        inner = [a for a in typing.get_args(tp) if a is not type(None)]
        return from_jsonable(inner[0], value)
    if origin is tuple:
        args = typing.get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(from_jsonable(args[0], v) for v in value)
        return tuple(from_jsonable(a, v) for a, v in zip(args, value, strict=True))
    if origin in (Mapping, dict) or tp is dict:
        return dict(value)
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return tp(value)
    return value


@dataclasses.dataclass(frozen=True)
class SandboxRecord:
    id: str
    config: PodSandboxConfig
    created_at: int
    ready: bool = True
    ips: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class ContainerRecord:
    id: str
    sandbox_id: str
    config: ContainerConfig
    created_at: int
    log_path: str
    cgroup: str
    started_at: int = 0


def save(path: Path, record: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(to_jsonable(record)))
    os.replace(tmp, path)


def load(path: Path, cls: type[T]) -> T:
    result: T = from_jsonable(cls, json.loads(path.read_text()))
    return result
