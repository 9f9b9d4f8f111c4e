"""The runc runtime: mounts, log reopening, stats, and ``pyk8s killall`` from the command line."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

from pyk8s.kubelet.runtime import interface as cri
from pyk8s.kubelet.runtime import killall
from pyk8s.kubelet.runtime.runc import RuncRuntime
from tests.e2e.kubelet.conftest import container_config, pod_config, run_container, wait_exited
from tests.e2e.kubelet.test_runc import read_log, wait_logged

pytestmark = pytest.mark.e2e


async def test_bind_mounts_read_only_and_read_write(
    runtime: RuncRuntime, busybox_layer: Path, tmp_path: Path
) -> None:
    ro_dir, rw_dir = tmp_path / "ro", tmp_path / "rw"
    ro_dir.mkdir()
    rw_dir.mkdir()
    (ro_dir / "config").write_text("from the host\n")
    sb = pod_config("vol", tmp_path)
    sid = await runtime.run_pod_sandbox(sb)
    script = "cat /cfg/config; echo x > /cfg/new || echo ro-refused; echo written > /data/out"
    cfg = container_config(
        "c",
        busybox_layer,
        ["sh", "-c", script],
        mounts=(
            cri.Mount("/cfg", str(ro_dir), readonly=True),
            cri.Mount("/data", str(rw_dir)),
        ),
    )
    status = await wait_exited(runtime, await run_container(runtime, sid, sb, cfg))
    out = [e.content for e in read_log(status.log_path) if e.stream == "stdout"]
    assert out == [b"from the host", b"ro-refused"]
    assert (rw_dir / "out").read_text() == "written\n"
    assert not (ro_dir / "new").exists()


async def test_reopen_log_after_rotation_and_stats(
    runtime: RuncRuntime, busybox_layer: Path, tmp_path: Path
) -> None:
    sb = pod_config("rot", tmp_path)
    sid = await runtime.run_pod_sandbox(sb)
    script = "i=0; while :; do i=$((i+1)); echo line $i; sleep 0.05; done"
    cid = await run_container(
        runtime, sid, sb, container_config("c", busybox_layer, ["sh", "-c", script])
    )
    await wait_logged(runtime, cid, b"line 2")
    log = Path((await runtime.container_status(cid)).log_path)
    rotated = log.with_name(log.name + ".1")
    await asyncio.to_thread(
        log.rename, rotated
    )  # the kubelet's log manager rotates like this, then asks to reopen
    await runtime.reopen_container_log(cid)
    await asyncio.sleep(0.3)
    new_lines = [e.content for e in read_log(str(log))]
    old_lines = [e.content for e in read_log(str(rotated))]
    assert new_lines and old_lines
    n_old = int(old_lines[-1].split()[1])
    assert int(new_lines[0].split()[1]) == n_old + 1  # nothing lost, nothing repeated

    stats = await runtime.container_stats(cid)
    assert stats.memory_working_set_bytes > 0
    assert stats.cpu_usage_core_nanoseconds > 0
    assert stats.pids >= 1


async def test_pyk8s_killall_command(
    runtime: RuncRuntime, busybox_layer: Path, tmp_path: Path
) -> None:
    sb = pod_config("cli", tmp_path)
    sid = await runtime.run_pod_sandbox(sb)
    await run_container(runtime, sid, sb, container_config("c", busybox_layer, ["sleep", "1000"]))
    other = RuncRuntime(tmp_path / "other-cluster")
    other_sid = await other.run_pod_sandbox(pod_config("other", tmp_path))
    try:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "pyk8s",
            "killall",
            "--data-dir",
            str(tmp_path / "data"),
            stdout=asyncio.subprocess.PIPE,
        )
        out, _ = await proc.communicate()
        assert proc.returncode == 0, out
        assert f"killall {runtime.naming.prefix}: done" in out.decode()
        assert await asyncio.to_thread(killall.leftovers, runtime.naming.prefix) == []
        # The other cluster on this machine is untouched.
        assert (await other.pod_sandbox_status(other_sid)).state == cri.SandboxState.READY
        assert await asyncio.to_thread(Path(f"/run/netns/{other_sid}").exists)
    finally:
        await other.remove_pod_sandbox(other_sid)
        await killall.killall(other.naming.prefix)
