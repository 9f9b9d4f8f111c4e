"""Real runc containers: a busybox layer, a runtime per test, and a check that nothing is left."""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from pyk8s.kubelet.runtime import interface as cri
from pyk8s.kubelet.runtime import killall
from pyk8s.kubelet.runtime.runc import RuncRuntime

BUSYBOX = "/bin/busybox"


def _require_host() -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root (runc, mounts, namespaces)")
    if shutil.which("runc") is None:
        pytest.skip("runc is not installed (Debian package runc; make deps)")
    if not os.path.exists(BUSYBOX):
        pytest.skip("busybox-static is not installed (make deps)")
    for tool in ("ip", "unshare", "mount"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed")


@pytest.fixture(scope="session")
def busybox_layer(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An image layer: the static busybox with every applet linked in /bin."""
    _require_host()
    layer = tmp_path_factory.mktemp("busybox-layer")
    for d in ("bin", "etc", "tmp", "root", "proc", "sys", "dev"):
        (layer / d).mkdir()
    (layer / "tmp").chmod(0o1777)
    shutil.copy2(BUSYBOX, layer / "bin" / "busybox")
    applets = os.popen(f"{BUSYBOX} --list").read().split()
    for applet in applets:
        if applet != "busybox":
            (layer / "bin" / applet).symlink_to("busybox")
    (layer / "etc" / "passwd").write_text("root:x:0:0:root:/root:/bin/sh\n")
    (layer / "etc" / "group").write_text("root:x:0:\n")
    return layer


@pytest.fixture
async def runtime(tmp_path: Path, busybox_layer: Path) -> AsyncIterator[RuncRuntime]:
    rt = RuncRuntime(tmp_path / "data")
    prefix = rt.naming.prefix
    try:
        yield rt
    finally:
        for sb in await rt.list_pod_sandboxes():
            await rt.remove_pod_sandbox(sb.id)
        left = await asyncio.to_thread(killall.leftovers, prefix, tmp_path / "data")
        await killall.killall(prefix, tmp_path / "data")
        after_killall = await asyncio.to_thread(killall.leftovers, prefix, tmp_path / "data")
    # The cluster's own (empty) parent cgroup stays until killall; nothing else may.
    left = [x for x in left if not (x.startswith("cgroup ") and x.endswith("/" + prefix))]
    assert left == [], f"left behind after removing every sandbox: {left}"
    assert after_killall == [], f"left behind after killall: {after_killall}"


def pod_config(name: str, tmp_path: Path, **kw: object) -> cri.PodSandboxConfig:
    return cri.PodSandboxConfig(
        metadata=cri.PodSandboxMetadata(name=name, uid=f"uid-{name}", namespace="default"),
        hostname=name,
        log_directory=str(tmp_path / "logs" / name),
        **kw,  # type: ignore[arg-type]
    )


def container_config(
    name: str, layer: Path, command: list[str], **kw: object
) -> cri.ContainerConfig:
    return cri.ContainerConfig(
        metadata=cri.ContainerMetadata(name=name),
        layers=(str(layer),),
        command=tuple(command),
        log_path=f"{name}/0.log",
        **kw,  # type: ignore[arg-type]
    )


async def wait_exited(rt: RuncRuntime, cid: str, timeout: float = 60) -> cri.ContainerStatus:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        status = await rt.container_status(cid)
        if status.state == cri.ContainerState.EXITED:
            return status
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"container did not exit: {status}")
        await asyncio.sleep(0.05)


async def run_container(
    rt: RuncRuntime, sandbox_id: str, sb: cri.PodSandboxConfig, cfg: cri.ContainerConfig
) -> str:
    cid = await rt.create_container(sandbox_id, cfg, sb)
    await rt.start_container(cid)
    return cid
