"""Automatic compaction: keep a bounded history without stalling writes.

Like the API server's compactor (apiserver ``storage/etcd3/compact.go``), it
compacts periodically to a revision it saw earlier; here the kept history is
the last ``min_revisions`` revisions or the last ``min_age`` seconds, whichever
is more. Backends do the actual deletion in small batches.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable

from pyk8s.storage.interface import Interface, StorageError

log = logging.getLogger(__name__)


class Policy:
    """Decides the compaction target from (time, revision) samples."""

    def __init__(
        self, *, min_revisions: int, min_age: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.min_revisions = min_revisions
        self.min_age = min_age
        self._clock = clock
        self._samples: deque[tuple[float, int]] = deque()
        self._old_enough = 0  # newest revision seen at least min_age ago

    def target(self, current: int) -> int:
        """The revision to compact to now (0: nothing to do)."""
        now = self._clock()
        self._samples.append((now, current))
        while self._samples and now - self._samples[0][0] >= self.min_age:
            self._old_enough = self._samples.popleft()[1]
        return max(0, min(current - self.min_revisions, self._old_enough))


async def run(
    store: Interface,
    *,
    interval: float,
    min_revisions: int,
    min_age: float,
) -> None:
    policy = Policy(min_revisions=min_revisions, min_age=min_age)
    while True:
        try:
            current = await store.current_revision()
            target = policy.target(current)
            if target > await store.compacted_revision():
                started = time.monotonic()
                await store.compact(target)
                log.info(
                    "compacted to revision %d (current %d) in %.3fs",
                    target,
                    current,
                    time.monotonic() - started,
                )
        except StorageError as e:
            log.warning("compaction failed: %s", e)
        await asyncio.sleep(interval)
