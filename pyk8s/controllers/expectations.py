"""Expectations: what a controller has asked for and not yet seen in its caches.

Mirrors ``ControllerExpectations`` and ``UIDTrackingControllerExpectations`` of
``pkg/controller/controller_utils.go``. After creating N pods a controller must
not count pods again until its informer has shown it those N creations (or the
expectations expired), or it would create them twice. Deletions are tracked by
pod key, so a deletion seen twice is counted once.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pyk8s.client import clock as clock_

EXPECTATIONS_TIMEOUT = 5 * 60.0
"""Seconds after which unfulfilled expectations are ignored (upstream: 5 minutes)."""


@dataclass
class _Record:
    add: int
    deletes: set[str] = field(default_factory=set)
    at: float = 0.0


class Expectations:
    def __init__(self, clock: clock_.Clock, timeout: float = EXPECTATIONS_TIMEOUT) -> None:
        self.clock = clock
        self.timeout = timeout
        self._records: dict[str, _Record] = {}

    def satisfied(self, key: str) -> bool:
        """True when nothing is pending for ``key`` (or what is pending is too old)."""
        rec = self._records.get(key)
        if rec is None:
            return True
        if rec.add <= 0 and not rec.deletes:
            return True
        return self.clock.now() - rec.at > self.timeout

    def expect_creations(self, key: str, count: int) -> None:
        self._records[key] = _Record(count, set(), self.clock.now())

    def expect_deletions(self, key: str, pod_keys: list[str]) -> None:
        self._records[key] = _Record(0, set(pod_keys), self.clock.now())

    def expect(self, key: str, count: int, pod_keys: list[str]) -> None:
        """``count`` creations and the deletion of ``pod_keys`` (``SetExpectations``)."""
        self._records[key] = _Record(count, set(pod_keys), self.clock.now())

    def creation_observed(self, key: str) -> None:
        rec = self._records.get(key)
        if rec is not None:
            rec.add -= 1

    def lower_creations(self, key: str, count: int) -> None:
        """``count`` creations will never be observed (they failed or were skipped)."""
        rec = self._records.get(key)
        if rec is not None:
            rec.add -= count

    def deletion_observed(self, key: str, pod_key: str) -> None:
        rec = self._records.get(key)
        if rec is not None:
            rec.deletes.discard(pod_key)

    def pending(self, key: str) -> tuple[int, int]:
        rec = self._records.get(key)
        return (0, 0) if rec is None else (max(rec.add, 0), len(rec.deletes))

    def delete(self, key: str) -> None:
        self._records.pop(key, None)
