"""The garbage collector: deletes objects whose owners are gone, honouring propagation policies."""

from __future__ import annotations

from pyk8s.controllers.garbagecollector.controller import GarbageCollector, new

__all__ = ["GarbageCollector", "new"]
