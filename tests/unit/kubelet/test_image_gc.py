"""Image GC: above the high threshold, unused images go, least recently used first."""

from __future__ import annotations

from typing import Any, cast

import pytest

from pyk8s.images import service as image_service
from pyk8s.kubelet import image_gc
from pyk8s.kubelet.runtime import interface as cri
from pyk8s.kubelet.runtime.fake import FakeRuntime

GB = 10**9


class Images:
    def __init__(self, sizes: dict[str, int], pinned: frozenset[str] = frozenset()) -> None:
        self.sizes = dict(sizes)
        self.pinned = pinned
        self.removed: list[str] = []

    async def list(self) -> list[image_service.ImageInfo]:
        return [
            image_service.ImageInfo(i, (f"{i}:latest",), (), size, i in self.pinned)
            for i, size in self.sizes.items()
        ]

    async def remove(self, image: str) -> None:
        self.removed.append(image)
        del self.sizes[image]


class Disk:
    def __init__(self, images: Images, capacity: int, other: int) -> None:
        self.images, self.capacity, self.other = images, capacity, other

    async def __call__(self) -> tuple[int, int]:
        used = self.other + sum(self.images.sizes.values())
        return self.capacity, self.capacity - used


async def use(rt: FakeRuntime, image_id: str) -> str:
    sb = cri.PodSandboxConfig(cri.PodSandboxMetadata(image_id, image_id, "ns"))
    sid = await rt.run_pod_sandbox(sb)
    cfg = cri.ContainerConfig(cri.ContainerMetadata("c"), ("/l",), image_ref=image_id)
    return await rt.create_container(sid, cfg, sb)


def manager(rt: FakeRuntime, images: Images, disk: Disk, clock: list[float]) -> Any:
    events: list[tuple[str, str, str]] = []
    m = image_gc.ImageGCManager(
        rt, cast(image_service.ImageService, images), disk, image_gc.Policy(),
        lambda t, r, msg: events.append((t, r, msg)), lambda: clock[0],
    )  # fmt: skip
    return m, events


async def test_below_the_high_threshold_nothing_goes() -> None:
    images = Images({"a": 10 * GB, "b": 10 * GB})
    m, _ = manager(FakeRuntime(), images, Disk(images, 100 * GB, 60 * GB), [1000.0])
    assert await m.garbage_collect() == 0  # 80% used
    assert images.removed == []


async def test_frees_down_to_the_low_threshold_lru_first_sparing_used_young_and_pinned() -> None:
    rt = FakeRuntime()
    images = Images(
        {"old": 4 * GB, "older": 4 * GB, "used": 4 * GB, "pinned": 4 * GB, "spare": 4 * GB},
        pinned=frozenset({"pinned"}),
    )
    clock = [1000.0]
    m, events = manager(rt, images, Disk(images, 100 * GB, 70 * GB), clock)  # 90% used
    await use(rt, "older")
    await m.detect_images()  # "older" was last used at 1000
    rt.containers.clear()
    clock[0] = 1100.0
    await use(rt, "old")
    await m.detect_images()  # "old" was last used at 1100
    rt.containers.clear()
    await use(rt, "used")
    clock[0] = 2000.0
    freed = await m.garbage_collect()  # 90% → needs 10 GB freed to reach 80%
    # Never used ("spare", last use 0) first, then the least recently used ones.
    assert images.removed == ["spare", "older", "old"]
    assert freed == 12 * GB
    assert events == []


async def test_young_images_are_kept_and_a_shortfall_is_an_event() -> None:
    images = Images({"new": 30 * GB})
    clock = [1000.0]
    m, events = manager(FakeRuntime(), images, Disk(images, 100 * GB, 60 * GB), clock)
    await m.detect_images()
    clock[0] = 1060.0  # one minute later: younger than imageMinimumGCAge
    assert await m.garbage_collect() == 0
    assert images.removed == []
    assert [r for _, r, _ in events] == ["FreeDiskSpaceFailed"]
    clock[0] = 1200.0
    assert await m.garbage_collect() == 30 * GB


def test_policy_is_checked() -> None:
    with pytest.raises(ValueError, match="not above the high one"):
        image_gc.Policy(high_threshold_percent=70, low_threshold_percent=80)
