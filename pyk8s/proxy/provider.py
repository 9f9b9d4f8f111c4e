"""What a proxy mode implements: make the node's data path match Services and EndpointSlices.

Mirrors ``pkg/proxy/types.go`` (``Provider``). Our providers render the whole rule set from
the full lists at every sync, so they need no change tracking; the informer caches are the
state. ``FakeProvider`` records what it was asked, for tests of the code above it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol


class Provider(Protocol):
    async def sync(
        self,
        services: Iterable[Mapping[str, Any]],
        endpoint_slices: Iterable[Mapping[str, Any]],
    ) -> object:
        """Make the data path match exactly these objects (a full sync, not a delta)."""
        ...


@dataclass
class FakeProvider:
    syncs: list[tuple[Sequence[Mapping[str, Any]], Sequence[Mapping[str, Any]]]] = field(
        default_factory=list
    )
    fail: int = 0  # fail this many syncs first

    async def sync(
        self,
        services: Iterable[Mapping[str, Any]],
        endpoint_slices: Iterable[Mapping[str, Any]],
    ) -> object:
        if self.fail > 0:
            self.fail -= 1
            raise RuntimeError("fake provider failure")
        self.syncs.append((list(services), list(endpoint_slices)))
        return None
