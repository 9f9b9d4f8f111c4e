"""The mutation cache: a controller's own writes win over an older informer copy."""

from __future__ import annotations

from typing import Any

from pyk8s.client import clock
from pyk8s.controllers import mutation_cache


def rs(rv: str, replicas: int, uid: str = "u1") -> dict[str, Any]:
    return {"metadata": {"uid": uid, "resourceVersion": rv}, "spec": {"replicas": replicas}}


async def test_newer_write_is_served_until_the_cache_catches_up() -> None:
    cache = mutation_cache.MutationCache(clock.RealClock())
    cache.mutated(rs("12", 5))
    assert cache.newest(rs("10", 3))["spec"]["replicas"] == 5  # informer still behind
    assert cache.newest(rs("12", 5))["metadata"]["resourceVersion"] == "12"
    assert len(cache) == 0  # caught up: forgotten
    assert cache.newest(rs("10", 3))["spec"]["replicas"] == 3


async def test_a_newer_cached_copy_wins_and_other_objects_are_untouched() -> None:
    cache = mutation_cache.MutationCache(clock.RealClock())
    cache.mutated(rs("12", 5))
    assert cache.newest(rs("15", 7))["spec"]["replicas"] == 7  # someone wrote after us
    cache.mutated(rs("20", 1))
    assert cache.newest(rs("3", 9, uid="other"))["spec"]["replicas"] == 9
    cache.forget("u1")
    assert cache.newest(rs("10", 3))["spec"]["replicas"] == 3


async def test_entries_expire() -> None:
    cache = mutation_cache.MutationCache(clock.RealClock(), ttl=-1.0)
    cache.mutated(rs("12", 5))
    assert cache.newest(rs("10", 3))["spec"]["replicas"] == 3
