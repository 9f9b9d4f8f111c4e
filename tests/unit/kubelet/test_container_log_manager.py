"""Log rotation by size: rename, reopen, compress older files, keep containerLogMaxFiles."""

from __future__ import annotations

import asyncio
import gzip
from pathlib import Path

import pytest

from pyk8s.kubelet import container_log_manager as clm
from pyk8s.kubelet.runtime import interface as cri
from pyk8s.kubelet.runtime.fake import FakeRuntime


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def read(path: Path) -> bytes:
    return path.read_bytes() if path.exists() else b""


async def rotated(live: Path) -> list[str]:
    return await asyncio.to_thread(clm.rotated_files, str(live))


async def running_container(rt: FakeRuntime, logs: Path) -> cri.ContainerStatus:
    sb = cri.PodSandboxConfig(cri.PodSandboxMetadata("p", "u", "ns"), log_directory=str(logs))
    sid = await rt.run_pod_sandbox(sb)
    cfg = cri.ContainerConfig(cri.ContainerMetadata("c"), layers=("/l",), log_path="c/0.log")
    cid = await rt.create_container(sid, cfg, sb)
    await rt.start_container(cid)
    return await rt.container_status(cid)


async def test_rotates_past_the_size_and_keeps_max_files(tmp_path: Path) -> None:
    rt = FakeRuntime()
    c = await running_container(rt, tmp_path)
    live = write(Path(c.log_path), b"small")
    m = clm.ContainerLogManager(rt, max_size=100, max_files=3)
    await m.rotate_logs()
    assert await rotated(live) == [] and "reopen_container_log" not in rt.call_names()
    for i in range(4):
        write(live, f"generation {i} ".encode() * 20)
        assert await m.rotate_container(c.id, str(live), now=1000.0 + i)
    names = [Path(p).name for p in await rotated(live)]
    # max_files 3 = the live file + 2 rotated; all but the newest rotated one compressed.
    assert names == ["0.log.19700101-001642.gz", "0.log.19700101-001643"]
    assert gzip.decompress(read(live.parent / names[0])).startswith(b"generation 2")
    assert read(live.parent / names[1]).startswith(b"generation 3")
    assert rt.call_names().count("reopen_container_log") == 4
    assert read(live) == b""  # gone: the runtime's writer makes it anew when reopening


async def test_rotation_of_a_gone_container_puts_the_file_back(tmp_path: Path) -> None:
    rt = FakeRuntime()
    c = await running_container(rt, tmp_path)
    live = write(Path(c.log_path), b"x" * 200)
    rt.errors["reopen_container_log"] = cri.NotFoundError("gone")
    m = clm.ContainerLogManager(rt, max_size=100, max_files=2)
    with pytest.raises(cri.ContainerRuntimeError):
        await m.rotate_container(c.id, str(live))
    assert read(live) == b"x" * 200 and await rotated(live) == []


def test_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="at least 2"):
        clm.ContainerLogManager(FakeRuntime(), 10, 1)
