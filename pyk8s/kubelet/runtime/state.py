"""The runtime's records on disk: one JSON file per sandbox and per container.

A restarted kubelet builds a new runtime object over the same directory and finds every
sandbox and container again (adoption), as containerd does from its metadata store
(``internal/cri/server/restart.go`` ``recover``). Records are written atomically.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import json
import os
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

from pyk8s.kubelet.runtime.interface import ContainerConfig, PodSandboxConfig

T = TypeVar("T")


@functools.cache
def _hints(tp: type) -> dict[str, Any]:
    """``get_type_hints`` evaluates every annotation string anew each call: once per class."""
    return typing.get_type_hints(tp)


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
        hints = _hints(tp)
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


_CACHE_MAX = 4096
_cache: dict[tuple[str, type], tuple[tuple[int, int, int], Any]] = {}


def load(path: Path, cls: type[T]) -> T:
    """The record in ``path``. Records are immutable and rewritten by rename, so one parsed
    while the file's inode, size and mtime stay the same is handed out again (the kubelet
    lists every record once a second)."""
    key = (str(path), cls)
    with open(path, "rb") as f:
        st = os.fstat(f.fileno())
        stamp = (st.st_ino, st.st_size, st.st_mtime_ns)
        hit = _cache.get(key)
        if hit is not None and hit[0] == stamp:
            cached: T = hit[1]
            return cached
        data = f.read()
    result: T = from_jsonable(cls, json.loads(data))
    if len(_cache) >= _CACHE_MAX:
        _cache.clear()
    _cache[key] = (stamp, result)
    return result
