"""The runc runtime with real containers: logs, exit codes, namespaces, OOM, stop, exec."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import pytest

from pyk8s.kubelet.runtime import interface as cri
from pyk8s.kubelet.runtime import killall, logs
from pyk8s.kubelet.runtime.runc import RuncRuntime
from tests.e2e.kubelet.conftest import container_config, pod_config, run_container, wait_exited

pytestmark = pytest.mark.e2e


def read_log(path: str) -> list[logs.Entry]:
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        return []
    return [logs.parse_line(line) for line in data.splitlines()]


async def test_output_in_cri_log_format_and_exit_code(
    runtime: RuncRuntime, busybox_layer: Path, tmp_path: Path
) -> None:
    sb = pod_config("logs", tmp_path)
    sid = await runtime.run_pod_sandbox(sb)
    script = "echo hello; echo oops >&2; head -c 20000 /dev/zero | tr '\\0' x; echo; printf tail"
    cid = await run_container(
        runtime, sid, sb, container_config("c", busybox_layer, ["sh", "-c", script + "; exit 3"])
    )
    status = await wait_exited(runtime, cid)
    assert (status.exit_code, status.reason) == (3, "Error")
    assert status.started_at <= status.finished_at
    assert status.log_path == str(tmp_path / "logs" / "logs" / "c" / "0.log")
    entries = read_log(status.log_path)
    out = [(e.stream, e.partial, e.content) for e in entries if e.stream == "stdout"]
    err = [(e.stream, e.partial, e.content) for e in entries if e.stream == "stderr"]
    assert out == [
        ("stdout", False, b"hello"),
        ("stdout", True, b"x" * logs.MAX_LINE),
        ("stdout", False, b"x" * (20000 - logs.MAX_LINE)),
        ("stdout", False, b"tail"),
    ]
    assert err == [("stderr", False, b"oops")]
    assert all(abs(e.time_ns - time.time_ns()) < 60e9 for e in entries)


async def test_completed_env_args_cwd_user(
    runtime: RuncRuntime, busybox_layer: Path, tmp_path: Path
) -> None:
    sb = pod_config("env", tmp_path)
    sid = await runtime.run_pod_sandbox(sb)
    cfg = container_config(
        "c",
        busybox_layer,
        ["sh", "-c", 'echo "$GREETING $1 $2"; pwd; id -u; id -g; echo "$HOSTNAME"'],
        args=("-", "first", "second arg"),
        envs=(("GREETING", "hi there"),),
        working_dir="/tmp",
        security=cri.SecurityContext(run_as_user=1234, run_as_group=5678),
    )
    status = await wait_exited(runtime, await run_container(runtime, sid, sb, cfg))
    assert (status.exit_code, status.reason) == (0, "Completed")
    lines = [e.content.decode() for e in read_log(status.log_path)]
    assert lines == ["hi there first second arg", "/tmp", "1234", "5678", "env"]


async def test_pod_shares_network_and_uts_hostname_is_pod_name(
    runtime: RuncRuntime, busybox_layer: Path, tmp_path: Path
) -> None:
    sb = pod_config("web", tmp_path, dns=cri.DNSConfig(("10.43.0.10",), ("ns.svc",), ("ndots:5",)))
    sid = await runtime.run_pod_sandbox(sb)
    server = container_config(
        "server",
        busybox_layer,
        [
            "sh",
            "-c",
            "mkdir /www; echo pong > /www/index.html; exec httpd -f -p 127.0.0.1:8080 -h /www",
        ],
    )
    await run_container(runtime, sid, sb, server)
    client_script = (
        "for i in $(seq 100); do wget -qO- http://127.0.0.1:8080/index.html && break; sleep 0.05;"
        " done; hostname; cat /etc/hostname; cat /etc/resolv.conf; grep -c localhost /etc/hosts;"
        " ip -o link | cut -d: -f2"
    )
    client = container_config("client", busybox_layer, ["sh", "-c", client_script])
    status = await wait_exited(runtime, await run_container(runtime, sid, sb, client))
    assert status.exit_code == 0
    lines = [e.content.decode().strip() for e in read_log(status.log_path)]
    assert lines == [
        "pong",
        "web",
        "web",
        "search ns.svc",
        "nameserver 10.43.0.10",
        "options ndots:5",
        "2",
        "lo",
    ]
    sandbox = await runtime.pod_sandbox_status(sid)
    assert sandbox.state == cri.SandboxState.READY
    assert await asyncio.to_thread(Path(sandbox.netns_path).exists)
    assert sandbox.netns_path == f"/run/netns/{sid}"


async def test_host_network_pod_sees_host_namespaces(
    runtime: RuncRuntime, busybox_layer: Path, tmp_path: Path
) -> None:
    sb = pod_config("hostnet", tmp_path, host_network=True)
    sid = await runtime.run_pod_sandbox(sb)
    cfg = container_config("c", busybox_layer, ["sh", "-c", "hostname; ls /sys/class/net | wc -l"])
    status = await wait_exited(runtime, await run_container(runtime, sid, sb, cfg))
    lines = [e.content.decode().strip() for e in read_log(status.log_path)]
    assert lines[0] == os.uname().nodename
    assert int(lines[1]) == len(os.listdir("/sys/class/net"))
    assert (await runtime.pod_sandbox_status(sid)).netns_path == ""


async def test_security_context_readonly_rootfs_and_default_capabilities(
    runtime: RuncRuntime, busybox_layer: Path, tmp_path: Path
) -> None:
    sb = pod_config("sec", tmp_path)
    sid = await runtime.run_pod_sandbox(sb)
    script = (
        "grep CapEff /proc/self/status; touch /newfile && echo writable || echo readonly;"
        " grep NoNewPrivs /proc/self/status"
    )
    ro = container_config(
        "ro",
        busybox_layer,
        ["sh", "-c", script],
        security=cri.SecurityContext(
            readonly_rootfs=True,
            capabilities=cri.Capabilities(drop=("NET_RAW",)),
            no_new_privs=True,
        ),
    )
    rw = container_config("rw", busybox_layer, ["sh", "-c", script])
    priv = container_config(
        "priv", busybox_layer, ["sh", "-c", script], security=cri.SecurityContext(privileged=True)
    )
    outs = {}
    for cfg in (ro, rw, priv):
        st = await wait_exited(runtime, await run_container(runtime, sid, sb, cfg))
        outs[cfg.metadata.name] = [
            e.content.decode() for e in read_log(st.log_path) if e.stream == "stdout"
        ]
    docker_default = 0x00000000A80425FB
    net_raw = 1 << 13
    assert outs["rw"] == [f"CapEff:\t{docker_default:016x}", "writable", "NoNewPrivs:\t0"]
    assert outs["ro"] == [
        f"CapEff:\t{docker_default & ~net_raw:016x}",
        "readonly",
        "NoNewPrivs:\t1",
    ]
    assert int(outs["priv"][0].split()[1], 16) > docker_default


async def test_memory_limit_ends_in_oomkilled_137(
    runtime: RuncRuntime, busybox_layer: Path, tmp_path: Path
) -> None:
    sb = pod_config("oom", tmp_path)
    sid = await runtime.run_pod_sandbox(sb)
    cfg = container_config(
        "hog",
        busybox_layer,
        ["sh", "-c", "echo start; tail /dev/zero"],
        resources=cri.Resources(memory_limit_in_bytes=32 * 1024 * 1024),
    )
    status = await wait_exited(runtime, await run_container(runtime, sid, sb, cfg))
    assert (status.exit_code, status.reason) == (137, "OOMKilled")


async def test_stop_is_sigterm_then_sigkill_after_grace(
    runtime: RuncRuntime, busybox_layer: Path, tmp_path: Path
) -> None:
    sb = pod_config("stop", tmp_path)
    sid = await runtime.run_pod_sandbox(sb)
    polite = container_config(
        "polite",
        busybox_layer,
        ["sh", "-c", 'trap "echo got TERM; exit 0" TERM; echo ready; while :; do sleep 0.05; done'],
    )
    stubborn = container_config(
        "stubborn",
        busybox_layer,
        ["sh", "-c", 'trap "echo ignoring TERM" TERM; echo ready; while :; do sleep 0.05; done'],
    )
    polite_id = await run_container(runtime, sid, sb, polite)
    stubborn_id = await run_container(runtime, sid, sb, stubborn)
    for cid in (polite_id, stubborn_id):
        await wait_logged(runtime, cid, b"ready")
        assert (await runtime.container_status(cid)).state == cri.ContainerState.RUNNING

    t0 = time.monotonic()
    await runtime.stop_container(polite_id, timeout=10)
    assert time.monotonic() - t0 < 5
    st = await runtime.container_status(polite_id)
    assert (st.state, st.exit_code) == (cri.ContainerState.EXITED, 0)
    assert b"got TERM" in [e.content for e in read_log(st.log_path)]

    t0 = time.monotonic()
    await runtime.stop_container(stubborn_id, timeout=1)
    elapsed = time.monotonic() - t0
    st = await runtime.container_status(stubborn_id)
    assert (st.exit_code, st.reason) == (137, "Error")
    assert 1 <= elapsed < 6
    assert b"ignoring TERM" in [e.content for e in read_log(st.log_path)]
    await runtime.stop_container(stubborn_id, timeout=1)  # idempotent


async def wait_logged(runtime: RuncRuntime, cid: str, line: bytes, timeout: float = 30) -> None:
    path = (await runtime.container_status(cid)).log_path
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if line in [e.content for e in await asyncio.to_thread(read_log, path)]:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"{line!r} not logged by {cid}")


async def test_exec_streams_and_exit_code(
    runtime: RuncRuntime, busybox_layer: Path, tmp_path: Path
) -> None:
    sb = pod_config("exec", tmp_path)
    sid = await runtime.run_pod_sandbox(sb)
    cfg = container_config(
        "c", busybox_layer, ["sleep", "1000"], envs=(("FROM_SPEC", "yes"),), working_dir="/tmp"
    )
    cid = await run_container(runtime, sid, sb, cfg)

    result = await runtime.exec_sync(
        cid, ["sh", "-c", 'echo "out $FROM_SPEC $(pwd)"; echo err >&2; exit 7']
    )
    assert result == cri.ExecResult(7, b"out yes /tmp\n", b"err\n")

    session = await runtime.exec(cid, ["sh", "-c", "tr a-z A-Z; exit 4"], stdin=True)
    assert session.stdin is not None
    session.stdin.write(b"shout\n")
    await session.stdin.drain()
    session.stdin.close()
    assert await session.stdout.read() == b"SHOUT\n"
    assert await session.wait() == 4

    t0 = time.monotonic()
    with pytest.raises(TimeoutError):
        await runtime.exec_sync(cid, ["sleep", "30"], timeout=0.5)
    assert time.monotonic() - t0 < 5
    ps = await runtime.exec_sync(cid, ["ps", "-o", "args"])
    assert b"sleep 30" not in ps.stdout

    await runtime.stop_container(cid, timeout=0)
    with pytest.raises(cri.ContainerRuntimeError):
        await runtime.exec_sync(cid, ["true"])


async def test_new_runtime_adopts_running_and_exited_containers(
    runtime: RuncRuntime, busybox_layer: Path, tmp_path: Path
) -> None:
    sb = pod_config("adopt", tmp_path)
    sid = await runtime.run_pod_sandbox(sb)
    long_id = await run_container(
        runtime,
        sid,
        sb,
        container_config("long", busybox_layer, ["sh", "-c", "echo one; sleep 1000"]),
    )
    short_id = await run_container(
        runtime,
        sid,
        sb,
        container_config("short", busybox_layer, ["sh", "-c", "sleep 0.5; echo done; exit 5"]),
    )
    await wait_logged(runtime, long_id, b"one")
    del runtime  # the "kubelet" goes away; containers and shims stay

    restarted = RuncRuntime(tmp_path / "data")
    assert [s.id for s in await restarted.list_pod_sandboxes()] == [sid]
    by_id = {c.id: c for c in await restarted.list_containers(sid)}
    assert by_id[long_id].state == cri.ContainerState.RUNNING
    assert by_id[long_id].pid > 0
    short = await wait_exited(restarted, short_id)  # exit recorded by the shim alone
    assert short.exit_code == 5
    assert [e.content for e in read_log(short.log_path)] == [b"done"]
    await restarted.stop_container(long_id, timeout=0.2)
    long = await restarted.container_status(long_id)
    assert (long.state, long.exit_code) == (cri.ContainerState.EXITED, 137)


async def test_remove_leaves_nothing_and_killall_cleans_a_running_pod(
    runtime: RuncRuntime, busybox_layer: Path, tmp_path: Path
) -> None:
    prefix = runtime.naming.prefix
    sb = pod_config("gone", tmp_path)
    sid = await runtime.run_pod_sandbox(sb)
    cid = await run_container(
        runtime, sid, sb, container_config("c", busybox_layer, ["sleep", "1000"])
    )
    left = await asyncio.to_thread(killall.leftovers, prefix)
    assert f"netns {sid}" in left
    assert f"runc container {cid}" in left
    assert any(x.startswith("mount ") and cid in x for x in left)
    await runtime.remove_pod_sandbox(sid)
    assert await runtime.list_containers() == []
    left = await asyncio.to_thread(killall.leftovers, prefix)
    assert [x for x in left if not x.endswith("/" + prefix)] == []

    # A second pod, still running when killall comes.
    sid = await runtime.run_pod_sandbox(sb)
    await run_container(runtime, sid, sb, container_config("c", busybox_layer, ["sleep", "1000"]))
    await killall.killall(prefix)
    assert await asyncio.to_thread(killall.leftovers, prefix) == []
    status = (await runtime.list_containers(sid))[0]
    assert status.state == cri.ContainerState.EXITED
