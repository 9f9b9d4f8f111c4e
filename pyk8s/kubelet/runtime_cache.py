"""One runtime listing shared by every pod worker, refreshed after the kubelet's own changes.

Mirrors the role of ``pkg/kubelet/container/cache.go`` (the PLEG-fed pod status cache that
``SyncPod`` reads instead of asking the runtime each time): with 60 pods, each sync asking
runc for every container costs a ``runc list`` per call. Here listings are shared while
nothing changed: a listing is reused if it is younger than ``max_age`` and no create, start,
stop or remove was issued through this object since it began; callers arriving while one is
in flight wait for it. Container exits are noticed within ``max_age`` (PLEG's relist period
upstream).
"""

from __future__ import annotations

import asyncio
import time

from pyk8s.kubelet.runtime.interface import (
    ContainerConfig,
    ContainerRuntime,
    ContainerStats,
    ContainerStatus,
    ExecResult,
    ExecSession,
    PodSandboxConfig,
    PodSandboxStatus,
)

Listing = tuple[list[PodSandboxStatus], list[ContainerStatus]]


class CachedRuntime:
    """A :class:`ContainerRuntime` whose listings are shared (see the module docstring)."""

    def __init__(self, runtime: ContainerRuntime, max_age: float = 1.0) -> None:
        self.runtime = runtime
        self.max_age = max_age
        self._gen = 0
        self._snap: tuple[int, float, Listing] | None = None
        self._inflight: tuple[int, asyncio.Future[Listing]] | None = None

    def _changed(self) -> None:
        self._gen += 1

    async def listing(self, *, fresh: bool = False) -> Listing:
        gen, now = self._gen, time.monotonic()
        snap = self._snap
        if not fresh and snap is not None and snap[0] == gen and now - snap[1] < self.max_age:
            return snap[2]
        if not fresh and self._inflight is not None and self._inflight[0] == gen:
            return await asyncio.shield(self._inflight[1])
        fut: asyncio.Future[Listing] = asyncio.get_running_loop().create_future()
        self._inflight = (gen, fut)
        try:
            listing = (
                await self.runtime.list_pod_sandboxes(),
                await self.runtime.list_containers(),
            )
        except BaseException as e:
            fut.set_exception(e)
            fut.exception()
            raise
        finally:
            if self._inflight is not None and self._inflight[1] is fut:
                self._inflight = None
        fut.set_result(listing)
        self._snap = (gen, now, listing)
        return listing

    # -- listings from the shared snapshot

    async def list_pod_sandboxes(self) -> list[PodSandboxStatus]:
        return list((await self.listing())[0])

    async def list_containers(self, sandbox_id: str | None = None) -> list[ContainerStatus]:
        containers = (await self.listing())[1]
        return [c for c in containers if sandbox_id is None or c.sandbox_id == sandbox_id]

    # -- changes: invalidate

    async def run_pod_sandbox(self, config: PodSandboxConfig) -> str:
        try:
            return await self.runtime.run_pod_sandbox(config)
        finally:
            self._changed()

    async def stop_pod_sandbox(self, sandbox_id: str) -> None:
        try:
            await self.runtime.stop_pod_sandbox(sandbox_id)
        finally:
            self._changed()

    async def remove_pod_sandbox(self, sandbox_id: str) -> None:
        try:
            await self.runtime.remove_pod_sandbox(sandbox_id)
        finally:
            self._changed()

    async def create_container(
        self, sandbox_id: str, config: ContainerConfig, sandbox_config: PodSandboxConfig
    ) -> str:
        try:
            return await self.runtime.create_container(sandbox_id, config, sandbox_config)
        finally:
            self._changed()

    async def start_container(self, container_id: str) -> None:
        try:
            await self.runtime.start_container(container_id)
        finally:
            self._changed()

    async def stop_container(self, container_id: str, timeout: float) -> None:
        try:
            await self.runtime.stop_container(container_id, timeout)
        finally:
            self._changed()

    async def remove_container(self, container_id: str) -> None:
        try:
            await self.runtime.remove_container(container_id)
        finally:
            self._changed()

    # -- the rest, passed through

    async def version(self) -> str:
        return await self.runtime.version()

    async def pod_sandbox_status(self, sandbox_id: str) -> PodSandboxStatus:
        return await self.runtime.pod_sandbox_status(sandbox_id)

    async def container_status(self, container_id: str) -> ContainerStatus:
        return await self.runtime.container_status(container_id)

    async def exec_sync(
        self, container_id: str, cmd: list[str], timeout: float | None = None
    ) -> ExecResult:
        return await self.runtime.exec_sync(container_id, cmd, timeout)

    async def exec(
        self, container_id: str, cmd: list[str], *, stdin: bool = False, tty: bool = False
    ) -> ExecSession:
        return await self.runtime.exec(container_id, cmd, stdin=stdin, tty=tty)

    async def attach(self, container_id: str, *, stdin: bool = False) -> ExecSession:
        return await self.runtime.attach(container_id, stdin=stdin)

    async def port_forward(
        self, sandbox_id: str, port: int
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        return await self.runtime.port_forward(sandbox_id, port)

    async def reopen_container_log(self, container_id: str) -> None:
        await self.runtime.reopen_container_log(container_id)

    async def container_stats(self, container_id: str) -> ContainerStats:
        return await self.runtime.container_stats(container_id)
