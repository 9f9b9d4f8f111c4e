"""NodePort allocation: one key per port in use, created atomically.

Mirrors ``pkg/registry/core/service/portallocator/allocator.go`` (a port is
either asked for and must be free and in range, or picked at random from the
range, 30000-32767 by default). Upstream keeps a bitmap in one RangeAllocation
object at ``/registry/ranges/servicenodeports``; pyk8s keeps a key per port under
that prefix, which lets storage's create decide races between API servers.
"""

from __future__ import annotations

import contextlib
import random

import orjson

from pyk8s.api import errors
from pyk8s.storage import interface as storage

PREFIX = "/registry/ranges/servicenodeports/"


class NodePortAllocator:
    def __init__(self, backend: storage.Interface, first: int = 30000, last: int = 32767) -> None:
        self.storage = backend
        self.first = first
        self.last = last

    async def allocate(self, port: int | None, namespace: str, name: str, field: str) -> int:
        owner = orjson.dumps({"namespace": namespace, "name": name})
        if port:
            if not self.first <= port <= self.last:
                raise errors.Invalid.for_object(
                    "Service",
                    "",
                    name,
                    [
                        errors.invalid_value(
                            field,
                            port,
                            f"provided port is not in the valid range. The range of valid "
                            f"ports is {self.first}-{self.last}",
                        )
                    ],
                )
            try:
                await self.storage.create(f"{PREFIX}{port}", owner)
            except storage.KeyExistsError:
                raise errors.Invalid.for_object(
                    "Service",
                    "",
                    name,
                    [errors.invalid_value(field, port, "provided port is already allocated")],
                ) from None
            return port
        for _ in range(128):
            candidate = random.randint(self.first, self.last)
            try:
                await self.storage.create(f"{PREFIX}{candidate}", owner)
            except storage.KeyExistsError:
                continue
            return candidate
        raise errors.InternalError("failed to allocate a nodePort: range is full")

    async def release(self, port: int) -> None:
        with contextlib.suppress(storage.KeyNotFoundError):
            await self.storage.delete(f"{PREFIX}{port}")
