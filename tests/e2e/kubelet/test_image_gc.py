"""Image garbage collection over a real image store and real runc containers: above the high
threshold, unused images go least recently used first until the low threshold is reached; an
image a container uses (running or exited) stays, and a shortfall is reported as the
``FreeDiskSpaceFailed`` node event."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from pyk8s.images import archive
from pyk8s.images import service as image_service
from pyk8s.kubelet import image_gc
from pyk8s.kubelet.runtime.runc import RuncRuntime
from tests.e2e.kubelet.conftest import container_config, pod_config, run_container, wait_exited
from tests.support import images

pytestmark = pytest.mark.e2e


async def _import(svc: image_service.ImageService, name: str) -> str:
    store = await svc.store()
    imported = await asyncio.to_thread(archive.import_archive, store, images.bootstrapped(name))
    return imported[0].image.id


async def test_unused_images_go_least_recently_used_first(
    runtime: RuncRuntime, busybox_layer: Path, tmp_path: Path
) -> None:
    svc = image_service.ImageService(tmp_path / "images")
    busybox = await _import(svc, "busybox")
    slim = await _import(svc, "debian-slim")
    nginx = await _import(svc, "nginx")
    sizes = {i.id: i.size for i in await svc.list()}
    capacity = sum(sizes.values())

    async def fs_usage() -> tuple[int, int]:
        """A filesystem exactly as large as the images first imported: full at the start."""
        return capacity, capacity - sum(i.size for i in await svc.list())

    now = [1000.0]
    events: list[tuple[str, str, str]] = []

    def manager(low: int) -> image_gc.ImageGCManager:
        policy = image_gc.Policy(high_threshold_percent=90, low_threshold_percent=low, min_age=0)
        return image_gc.ImageGCManager(
            runtime, svc, fs_usage, policy, lambda *e: events.append(e), lambda: now[0]
        )

    # nginx was used by a container that is gone; busybox is used by one that stays (exited)
    sb = pod_config("gc", tmp_path)
    sid = await runtime.run_pod_sandbox(sb)
    gc = manager(low=100 - 100 * sizes[slim] // capacity)
    cfg = container_config("web", busybox_layer, ["true"], image="nginx", image_ref=nginx)
    web = await run_container(runtime, sid, sb, cfg)
    await wait_exited(runtime, web)
    assert await gc.detect_images() == {nginx}
    await runtime.remove_container(web)
    now[0] += 60
    cfg = container_config("sh", busybox_layer, ["true"], image="busybox", image_ref=busybox)
    await wait_exited(runtime, await run_container(runtime, sid, sb, cfg))
    assert await gc.detect_images() == {busybox}

    remaining = {i.id for i in await svc.list()}
    assert remaining == {busybox, slim, nginx}
    to_free = capacity - capacity * gc.policy.low_threshold_percent // 100
    assert 0 < to_free <= sizes[slim] < to_free + sizes[nginx]

    # least recently used first: slim (never used) goes, nginx (used a minute ago) stays
    assert await gc.garbage_collect() == sizes[slim]
    assert {i.id for i in await svc.list()} == {busybox, nginx}
    assert events == []

    # down to nothing: nginx goes too; busybox, in use, stays and the shortfall is reported
    used = sizes[busybox] + sizes[nginx]
    assert 100 * used // capacity < 90  # below the first high threshold: nothing to do
    assert await gc.garbage_collect() == 0
    gc.policy = image_gc.Policy(high_threshold_percent=50, low_threshold_percent=0, min_age=0)
    assert 100 * used // capacity >= 50
    assert await gc.garbage_collect() == sizes[nginx]
    assert {i.id for i in await svc.list()} == {busybox}
    assert [(t, r) for t, r, _ in events] == [("Warning", "FreeDiskSpaceFailed")]
