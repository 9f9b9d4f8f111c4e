"""CrashLoopBackOff: how long to wait before restarting a container that exited.

Mirrors ``staging/src/k8s.io/client-go/util/flowcontrol/backoff.go`` (``Backoff``: ``Next``,
``IsInBackOffSince``, entries that expire after twice the maximum) as the kubelet uses it
(``pkg/kubelet/kuberuntime/kuberuntime_manager.go`` ``doBackOff``: key = pod, container name
and spec hash; initial 10 s, doubling, at most 5 min). The arithmetic is pure
(:func:`next_entry`, :func:`in_backoff_since`); :class:`BackOff` keeps the table with an
injected clock.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

INITIAL = 10.0
MAXIMUM = 300.0


@dataclass(frozen=True)
class Entry:
    backoff: float  # seconds
    last_update: float  # clock seconds


def next_entry(
    entry: Entry | None, now: float, initial: float = INITIAL, maximum: float = MAXIMUM
) -> Entry:
    """The entry after one more failure at ``now``: 10 s first, then doubled up to 5 min;
    back to 10 s once the last failure is older than twice the maximum."""
    if entry is None or now - entry.last_update > 2 * maximum:
        return Entry(initial, now)
    return Entry(min(entry.backoff * 2, maximum), now)


def in_backoff_since(entry: Entry | None, event_time: float, now: float) -> bool:
    """Is a restart still held back, ``event_time`` being when the container finished?"""
    if entry is None:
        return False
    return now - event_time < entry.backoff


def key(pod_uid: str, container_name: str, spec_hash: str) -> str:
    return f"{pod_uid}_{container_name}_{spec_hash}"


class BackOff:
    """The kubelet's table of back-off entries (one per pod container)."""

    def __init__(
        self,
        initial: float = INITIAL,
        maximum: float = MAXIMUM,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.initial = initial
        self.maximum = maximum
        self.clock = clock
        self._entries: dict[str, Entry] = {}

    def get(self, k: str) -> float:
        """The current back-off for ``k`` in seconds (0 without an entry)."""
        e = self._entries.get(k)
        return e.backoff if e else 0.0

    def next(self, k: str) -> float:
        """Record a restart now; return the back-off that now applies."""
        e = next_entry(self._entries.get(k), self.clock(), self.initial, self.maximum)
        self._entries[k] = e
        return e.backoff

    def in_backoff_since(self, k: str, event_time: float) -> bool:
        return in_backoff_since(self._entries.get(k), event_time, self.clock())

    def reset(self, k: str) -> None:
        self._entries.pop(k, None)

    def gc(self) -> None:
        """Drop entries whose last failure is older than twice the maximum."""
        now = self.clock()
        for k in [k for k, e in self._entries.items() if now - e.last_update > 2 * self.maximum]:
            del self._entries[k]
