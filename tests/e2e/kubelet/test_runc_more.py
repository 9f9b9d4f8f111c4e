"""The runc runtime: mounts, log reopening, stats, and ``pyk8s killall`` from the command line."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

from pyk8s.kubelet.runtime import command, killall
from pyk8s.kubelet.runtime import interface as cri
from pyk8s.kubelet.runtime.runc import RuncRuntime
from pyk8s.proxy import config as proxy_config
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
    chain = proxy_config.chain_prefix_for(runtime.naming.prefix) + "-SVC-ABCDEFGHIJKLMNOP"
    await command.run("iptables", "-t", "nat", "-N", chain)
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
        nat = await command.run("iptables-save", "-t", "nat")
        assert chain not in nat  # the service proxy's chains of this cluster went too
        # The other cluster on this machine is untouched.
        assert (await other.pod_sandbox_status(other_sid)).state == cri.SandboxState.READY
        assert await asyncio.to_thread(Path(f"/run/netns/{other_sid}").exists)
    finally:
        await command.run("iptables", "-t", "nat", "-X", chain, check=False)
        await other.remove_pod_sandbox(other_sid)
        await killall.killall(other.naming.prefix)


def cgroup_file(cgroup: str, v1_controller: str, v1_name: str, v2_name: str) -> str:
    from pyk8s.kubelet.runtime import cgroups

    if cgroups.is_v2():
        return Path(f"/sys/fs/cgroup{cgroup}/{v2_name}").read_text().strip()
    return Path(f"/sys/fs/cgroup/{v1_controller}{cgroup}/{v1_name}").read_text().strip()


async def test_cpu_and_memory_limits_reach_the_cgroup_and_sysctls_apply(
    runtime: RuncRuntime, busybox_layer: Path, tmp_path: Path
) -> None:
    sb = pod_config("limits", tmp_path, sysctls={"net.ipv4.ip_unprivileged_port_start": "80"})
    sid = await runtime.run_pod_sandbox(sb)
    cfg = container_config(
        "c",
        busybox_layer,
        ["sh", "-c", "cat /proc/sys/net/ipv4/ip_unprivileged_port_start; sleep 1000"],
        resources=cri.Resources(
            cpu_quota=50_000, cpu_period=100_000, cpu_shares=512, memory_limit_in_bytes=64 << 20
        ),
    )
    cid = await run_container(runtime, sid, sb, cfg)
    await wait_logged(runtime, cid, b"80")
    cg = f"{runtime.naming.cgroup_parent}/{sid}/{cid}"

    def read_limits() -> tuple[str, str, str]:
        return (
            cgroup_file(cg, "cpu", "cpu.cfs_quota_us", "cpu.max"),
            cgroup_file(cg, "cpu", "cpu.shares", "cpu.weight"),
            cgroup_file(cg, "memory", "memory.limit_in_bytes", "memory.max"),
        )

    quota, shares, memory = await asyncio.to_thread(read_limits)
    assert quota in ("50000", "50000 100000")
    assert shares in ("512", "20")  # runc maps shares 512 to weight 20 on cgroup v2
    assert memory == str(64 << 20)


async def test_many_pods_at_once(runtime: RuncRuntime, busybox_layer: Path, tmp_path: Path) -> None:
    """Parallel pod workers: sandboxes and containers created and removed concurrently."""

    async def one(i: int) -> tuple[str, str]:
        sb = pod_config(f"par{i}", tmp_path)
        sid = await runtime.run_pod_sandbox(sb)
        cfg = container_config("c", busybox_layer, ["sh", "-c", f"echo pod {i}; sleep 1000"])
        return sid, await run_container(runtime, sid, sb, cfg)

    pods = await asyncio.gather(*(one(i) for i in range(8)))
    for i, (_, cid) in enumerate(pods):
        await wait_logged(runtime, cid, f"pod {i}".encode())
    running = [c for c in await runtime.list_containers() if c.state == cri.ContainerState.RUNNING]
    assert len(running) == 8
    assert len({c.pid for c in running}) == 8
    await asyncio.gather(*(runtime.remove_pod_sandbox(sid) for sid, _ in pods))
    assert await runtime.list_containers() == []
    assert await runtime.list_pod_sandboxes() == []


async def test_many_long_layer_paths_still_mount(
    runtime: RuncRuntime, busybox_layer: Path, tmp_path: Path
) -> None:
    """41 layers named like an image store's (``<long store dir>/sha256-<64 hex>``): more than
    a page of mount options as absolute paths, which the runtime then mounts as relative."""
    store = tmp_path / ("store-" + "s" * 120) / "layers"

    def make_layers() -> list[str]:
        base = store / ("sha256-" + "0" * 64)
        base.parent.mkdir(parents=True)
        base.symlink_to(busybox_layer)
        paths = [str(base)]
        for i in range(1, 41):
            d = store / f"sha256-{i:064x}"
            (d / "etc" / "layers").mkdir(parents=True)
            (d / "etc" / "layers" / f"{i:03d}").write_text(f"{i}\n")
            paths.append(str(d))
        return paths

    layers = await asyncio.to_thread(make_layers)
    assert len(":".join(layers)) > 4096
    sb = pod_config("layers", tmp_path)
    sid = await runtime.run_pod_sandbox(sb)
    cfg = cri.ContainerConfig(
        metadata=cri.ContainerMetadata("c"),
        layers=tuple(layers),
        command=("sh", "-c", "ls /etc/layers | wc -l; cat /etc/layers/040"),
        log_path="c/0.log",
    )
    status = await wait_exited(runtime, await run_container(runtime, sid, sb, cfg))
    assert [e.content.strip() for e in read_log(status.log_path)] == [b"40", b"40"]
