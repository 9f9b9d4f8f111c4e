"""Shared runtime listings: reused while nothing changed, refreshed after a change."""

from __future__ import annotations

import asyncio

from pyk8s.kubelet.runtime import interface as cri
from pyk8s.kubelet.runtime.fake import FakeRuntime
from pyk8s.kubelet.runtime_cache import CachedRuntime


def sandbox_config(name: str) -> cri.PodSandboxConfig:
    return cri.PodSandboxConfig(metadata=cri.PodSandboxMetadata(name, f"uid-{name}", "default"))


async def test_listings_are_shared_until_a_change() -> None:
    fake = FakeRuntime()
    rt = CachedRuntime(fake, max_age=60)
    assert await rt.list_pod_sandboxes() == []
    await asyncio.gather(*(rt.list_containers() for _ in range(5)))
    assert fake.call_names().count("list_pod_sandboxes") == 1
    sid = await rt.run_pod_sandbox(sandbox_config("a"))  # a change: the next look is fresh
    assert [s.id for s in await rt.list_pod_sandboxes()] == [sid]
    cfg = cri.ContainerConfig(metadata=cri.ContainerMetadata("c"), layers=("/l",))
    cid = await rt.create_container(sid, cfg, sandbox_config("a"))
    await rt.start_container(cid)
    (c,) = await rt.list_containers(sid)
    assert c.state == cri.ContainerState.RUNNING
    fake.exit_container(cid, 1)  # not through the cache: seen on a fresh listing only
    assert (await rt.list_containers())[0].state == cri.ContainerState.RUNNING
    _, containers = await rt.listing(fresh=True)
    assert containers[0].state == cri.ContainerState.EXITED
    assert (await rt.list_containers())[0].state == cri.ContainerState.EXITED
