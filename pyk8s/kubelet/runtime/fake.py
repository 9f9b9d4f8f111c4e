"""An in-memory :class:`~.interface.ContainerRuntime` for kubelet tests.

Mirrors ``pkg/kubelet/container/testing/fake_runtime.go`` and the CRI's
``pkg/kubelet/kuberuntime/fake_kuberuntime_manager.go`` /``cri-api/pkg/apis/testing``:
every call is recorded in :attr:`FakeRuntime.calls`, containers run until a test ends them
with :meth:`FakeRuntime.exit_container`, errors are injected per method with
:attr:`FakeRuntime.errors`, and time comes from an injectable clock.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import time
from collections.abc import Callable
from typing import Any

from pyk8s.kubelet.runtime.interface import (
    ContainerConfig,
    ContainerRuntimeError,
    ContainerState,
    ContainerStats,
    ContainerStatus,
    ExecResult,
    ExecSession,
    NotFoundError,
    PodSandboxConfig,
    PodSandboxStatus,
    SandboxState,
)

ExecHandler = Callable[[str, list[str]], ExecResult]


class FakeRuntime:
    def __init__(self, clock: Callable[[], int] = time.time_ns) -> None:
        self.clock = clock
        self.calls: list[tuple[str, tuple[Any, ...]]] = []
        self.errors: dict[str, BaseException] = {}
        self.sandboxes: dict[str, PodSandboxStatus] = {}
        self.sandbox_configs: dict[str, PodSandboxConfig] = {}
        self.containers: dict[str, ContainerStatus] = {}
        self.container_configs: dict[str, ContainerConfig] = {}
        self.exec_handler: ExecHandler = lambda _cid, _cmd: ExecResult(0, b"", b"")
        self.exit_on_stop_code = 137
        self.stats: dict[str, ContainerStats] = {}  # what container_stats answers, by id
        self._ids = itertools.count(1)

    def _call(self, name: str, *args: Any) -> None:
        self.calls.append((name, args))
        err = self.errors.pop(name, None)
        if err is not None:
            raise err

    def call_names(self) -> list[str]:
        return [name for name, _ in self.calls]

    # ----- test controls

    def exit_container(self, container_id: str, exit_code: int, reason: str = "") -> None:
        """End a running container as if its process exited."""
        c = self.containers[container_id]
        if not reason:
            reason = "Completed" if exit_code == 0 else "Error"
        self.containers[container_id] = dataclasses.replace(
            c,
            state=ContainerState.EXITED,
            exit_code=exit_code,
            finished_at=self.clock(),
            reason=reason,
            pid=0,
        )

    # ----- protocol

    async def version(self) -> str:
        self._call("version")
        return "fake://0.0.1"

    async def run_pod_sandbox(self, config: PodSandboxConfig) -> str:
        self._call("run_pod_sandbox", config)
        sandbox_id = f"sandbox-{next(self._ids)}"
        self.sandbox_configs[sandbox_id] = config
        self.sandboxes[sandbox_id] = PodSandboxStatus(
            id=sandbox_id,
            metadata=config.metadata,
            state=SandboxState.READY,
            created_at=self.clock(),
            ips=() if config.host_network else (f"10.42.0.{len(self.sandboxes) + 2}",),
            netns_path="" if config.host_network else f"/run/netns/{sandbox_id}",
            labels=config.labels,
            annotations=config.annotations,
        )
        return sandbox_id

    async def stop_pod_sandbox(self, sandbox_id: str) -> None:
        self._call("stop_pod_sandbox", sandbox_id)
        if sandbox_id not in self.sandboxes:
            return
        for c in list(self.containers.values()):
            if c.sandbox_id == sandbox_id and c.state != ContainerState.EXITED:
                self.exit_container(c.id, self.exit_on_stop_code)
        self.sandboxes[sandbox_id] = dataclasses.replace(
            self.sandboxes[sandbox_id], state=SandboxState.NOTREADY, ips=()
        )

    async def remove_pod_sandbox(self, sandbox_id: str) -> None:
        self._call("remove_pod_sandbox", sandbox_id)
        for c in list(self.containers.values()):
            if c.sandbox_id == sandbox_id:
                del self.containers[c.id]
                self.container_configs.pop(c.id, None)
        self.sandboxes.pop(sandbox_id, None)
        self.sandbox_configs.pop(sandbox_id, None)

    async def pod_sandbox_status(self, sandbox_id: str) -> PodSandboxStatus:
        self._call("pod_sandbox_status", sandbox_id)
        try:
            return self.sandboxes[sandbox_id]
        except KeyError:
            raise NotFoundError(f"pod sandbox {sandbox_id!r} not found") from None

    async def list_pod_sandboxes(self) -> list[PodSandboxStatus]:
        self._call("list_pod_sandboxes")
        return list(self.sandboxes.values())

    async def create_container(
        self, sandbox_id: str, config: ContainerConfig, sandbox_config: PodSandboxConfig
    ) -> str:
        self._call("create_container", sandbox_id, config, sandbox_config)
        sandbox = self.sandboxes.get(sandbox_id)
        if sandbox is None:
            raise NotFoundError(f"pod sandbox {sandbox_id!r} not found")
        if sandbox.state != SandboxState.READY:
            raise ContainerRuntimeError(f"pod sandbox {sandbox_id!r} is not ready")
        container_id = f"container-{next(self._ids)}"
        log_path = f"{sandbox_config.log_directory}/{config.log_path}"
        self.container_configs[container_id] = config
        self.containers[container_id] = ContainerStatus(
            id=container_id,
            sandbox_id=sandbox_id,
            metadata=config.metadata,
            state=ContainerState.CREATED,
            created_at=self.clock(),
            image=config.image,
            image_ref=config.image_ref,
            log_path=log_path,
            labels=config.labels,
            annotations=config.annotations,
        )
        return container_id

    def _get(self, container_id: str) -> ContainerStatus:
        try:
            return self.containers[container_id]
        except KeyError:
            raise NotFoundError(f"container {container_id!r} not found") from None

    async def start_container(self, container_id: str) -> None:
        self._call("start_container", container_id)
        c = self._get(container_id)
        if c.state != ContainerState.CREATED:
            raise ContainerRuntimeError(f"container {container_id} is {c.state.value}")
        self.containers[container_id] = dataclasses.replace(
            c, state=ContainerState.RUNNING, started_at=self.clock(), pid=1000 + len(self.calls)
        )

    async def stop_container(self, container_id: str, timeout: float) -> None:
        self._call("stop_container", container_id, timeout)
        if self._get(container_id).state != ContainerState.EXITED:
            self.exit_container(container_id, self.exit_on_stop_code)

    async def remove_container(self, container_id: str) -> None:
        self._call("remove_container", container_id)
        self.containers.pop(container_id, None)
        self.container_configs.pop(container_id, None)

    async def container_status(self, container_id: str) -> ContainerStatus:
        self._call("container_status", container_id)
        return self._get(container_id)

    async def list_containers(self, sandbox_id: str | None = None) -> list[ContainerStatus]:
        self._call("list_containers", sandbox_id)
        return [
            c for c in self.containers.values() if sandbox_id is None or c.sandbox_id == sandbox_id
        ]

    async def exec_sync(
        self, container_id: str, cmd: list[str], timeout: float | None = None
    ) -> ExecResult:
        self._call("exec_sync", container_id, cmd, timeout)
        if self._get(container_id).state != ContainerState.RUNNING:
            raise ContainerRuntimeError(f"container {container_id} is not running")
        return self.exec_handler(container_id, cmd)

    async def exec(
        self, container_id: str, cmd: list[str], *, stdin: bool = False, tty: bool = False
    ) -> ExecSession:
        self._call("exec", container_id, cmd, stdin, tty)
        if self._get(container_id).state != ContainerState.RUNNING:
            raise ContainerRuntimeError(f"container {container_id} is not running")
        return _FakeExec(self.exec_handler(container_id, cmd))

    async def attach(self, container_id: str, *, stdin: bool = False) -> ExecSession:
        self._call("attach", container_id, stdin)
        if self._get(container_id).state != ContainerState.RUNNING:
            raise ContainerRuntimeError(f"container {container_id} is not running")
        return _FakeExec(ExecResult(-1, b"", b""))

    async def port_forward(
        self, sandbox_id: str, port: int
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        self._call("port_forward", sandbox_id, port)
        if sandbox_id not in self.sandboxes:
            raise NotFoundError(f"pod sandbox {sandbox_id!r} not found")
        raise ContainerRuntimeError("the fake runtime has no network")

    async def reopen_container_log(self, container_id: str) -> None:
        self._call("reopen_container_log", container_id)
        self._get(container_id)

    async def container_stats(self, container_id: str) -> ContainerStats:
        self._call("container_stats", container_id)
        self._get(container_id)
        return self.stats.get(container_id) or ContainerStats(
            id=container_id, timestamp=self.clock()
        )


class _FakeExec:
    def __init__(self, result: ExecResult) -> None:
        self._result = result
        self.stdin: asyncio.StreamWriter | None = None
        self.stdout = asyncio.StreamReader()
        self.stdout.feed_data(result.stdout)
        self.stdout.feed_eof()
        self.stderr: asyncio.StreamReader | None = asyncio.StreamReader()
        self.stderr.feed_data(result.stderr)
        self.stderr.feed_eof()

    async def wait(self) -> int:
        return self._result.exit_code

    async def kill(self) -> None:
        return None

    async def resize(self, cols: int, rows: int) -> None:
        return None
