"""Image garbage collection: free the image filesystem when it fills up, unused images first.

Mirrors ``pkg/kubelet/images/image_gc_manager.go``: ``detectImages`` (when each image was
first seen and last used by a container, running or not), ``GarbageCollect`` (above
``imageGCHighThresholdPercent`` of the image filesystem in use, free down to
``imageGCLowThresholdPercent``), ``freeSpace`` (images no container uses, least recently used
first, none younger than ``imageMinimumGCAge``, pinned ones never) and the events it records
on the node (``FreeDiskSpaceFailed``, ``ImageGCFailed``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from pyk8s.images import service as image_service
from pyk8s.kubelet.runtime import interface as cri

log = logging.getLogger(__name__)

FsUsage = Callable[[], Awaitable[tuple[int, int]]]
"""``() -> (capacity bytes, available bytes)`` of the image filesystem."""


@dataclass(frozen=True)
class Policy:
    high_threshold_percent: int = 85
    low_threshold_percent: int = 80
    min_age: float = 120.0  # imageMinimumGCAge, 2 min
    period: float = 300.0  # ImageGCPeriod, 5 min

    def __post_init__(self) -> None:
        if not 0 <= self.high_threshold_percent <= 100:
            raise ValueError("imageGCHighThresholdPercent must be within 0-100")
        if not 0 <= self.low_threshold_percent <= self.high_threshold_percent:
            raise ValueError(
                "imageGCLowThresholdPercent must be within 0-100 and not above the high one"
            )


@dataclass
class _Record:
    first_detected: float
    last_used: float
    size: int


class ImageGCManager:
    def __init__(
        self,
        runtime: cri.ContainerRuntime,
        images: image_service.ImageService,
        fs_usage: FsUsage,
        policy: Policy = Policy(),
        record_event: Callable[[str, str, str], None] = lambda t, r, m: None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.runtime = runtime
        self.images = images
        self.fs_usage = fs_usage
        self.policy = policy
        self.record_event = record_event
        self.clock = clock
        self._records: dict[str, _Record] = {}
        self._pinned: set[str] = set()

    async def detect_images(self) -> set[str]:
        """Refresh what is known of each image; return the ids of the images in use."""
        now = self.clock()
        in_use = {c.image_ref for c in await self.runtime.list_containers() if c.image_ref}
        present = {}
        for info in await self.images.list():
            present[info.id] = info
            rec = self._records.get(info.id)
            if rec is None:
                rec = self._records[info.id] = _Record(now, 0.0, info.size)
            rec.size = info.size
            if info.id in in_use:
                rec.last_used = now
        for gone in set(self._records) - set(present):
            del self._records[gone]
        self._pinned = {i for i, info in present.items() if info.pinned}
        return in_use

    async def garbage_collect(self) -> int:
        """One pass; returns the bytes freed. Raises nothing for a shortfall (it is logged and
        recorded as an event, as upstream does), only for failures to look."""
        capacity, available = await self.fs_usage()
        if capacity <= 0:
            return 0
        usage_percent = 100 * (capacity - available) // capacity
        if usage_percent < self.policy.high_threshold_percent:
            await self.detect_images()  # keep last-use times current
            return 0
        to_free = (capacity - available) - capacity * self.policy.low_threshold_percent // 100
        log.info(
            "image filesystem at %d%% (high threshold %d%%): freeing %d bytes",
            usage_percent,
            self.policy.high_threshold_percent,
            to_free,
        )
        freed = await self.free_space(to_free)
        if freed < to_free:
            msg = (
                f"Failed to garbage collect required amount of images. Attempted to free "
                f"{to_free} bytes, but only found {freed} bytes eligible to free."
            )
            log.warning("%s", msg)
            self.record_event("Warning", "FreeDiskSpaceFailed", msg)
        return freed

    async def free_space(self, to_free: int) -> int:
        """Remove unused images, least recently used first, until ``to_free`` bytes went."""
        in_use = await self.detect_images()
        now = self.clock()
        candidates = sorted(
            (
                (rec.last_used, rec.first_detected, image_id, rec.size)
                for image_id, rec in self._records.items()
                if image_id not in in_use and image_id not in self._pinned
            ),
        )
        freed = 0
        for _last_used, first_detected, image_id, size in candidates:
            if freed >= to_free:
                break
            if now - first_detected < self.policy.min_age:
                continue
            log.info("removing image %s (%d bytes) to free disk space", image_id, size)
            try:
                await self.images.remove(image_id)
            except Exception as e:  # one image that cannot go must not stop the rest
                self.record_event("Warning", "ImageGCFailed", f"removing {image_id}: {e}")
                continue
            self._records.pop(image_id, None)
            freed += size
        return freed

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.policy.period)
            try:
                await self.garbage_collect()
            except (OSError, cri.ContainerRuntimeError) as e:
                log.warning("image garbage collection failed: %s", e)
                self.record_event("Warning", "ImageGCFailed", str(e))
