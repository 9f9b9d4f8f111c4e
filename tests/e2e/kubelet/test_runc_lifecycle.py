"""The runtime across a kubelet that dies, and with a pod network plugged in."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import pytest

from pyk8s.kubelet.runtime import command
from pyk8s.kubelet.runtime import interface as cri
from pyk8s.kubelet.runtime.runc import RuncRuntime
from tests.e2e.kubelet.conftest import container_config, pod_config, run_container, wait_exited
from tests.e2e.kubelet.test_runc import read_log, wait_logged

pytestmark = pytest.mark.e2e
REPO_ROOT = Path(__file__).resolve().parents[3]

KUBELET = """
import asyncio, sys
from pathlib import Path
sys.path.insert(0, {root!r})
from pyk8s.kubelet.runtime.runc import RuncRuntime
from tests.e2e.kubelet.conftest import container_config, pod_config, run_container

async def main():
    rt = RuncRuntime({data!r})
    sb = pod_config("survivor", Path({tmp!r}))
    sid = await rt.run_pod_sandbox(sb)
    script = "i=0; while :; do i=$((i+1)); echo tick $i; sleep 0.05; done"
    cfg = container_config("c", Path({layer!r}), ["sh", "-c", script])
    cid = await run_container(rt, sid, sb, cfg)
    print(sid, cid, flush=True)
    await asyncio.sleep(3600)

import uvloop  # the event loop pyk8s runs on (its subprocesses leak a pipe to children)
uvloop.run(main())
"""


async def test_containers_outlive_a_killed_kubelet_and_are_adopted(
    runtime: RuncRuntime, busybox_layer: Path, tmp_path: Path
) -> None:
    root = str(REPO_ROOT)
    code = KUBELET.format(
        root=root, data=str(tmp_path / "data"), tmp=str(tmp_path), layer=str(busybox_layer)
    )
    kubelet = await asyncio.create_subprocess_exec(
        sys.executable, "-c", code, stdout=asyncio.subprocess.PIPE, cwd=root
    )
    assert kubelet.stdout is not None
    line = await asyncio.wait_for(kubelet.stdout.readline(), 60)
    sid, cid = line.decode().split()
    os.kill(kubelet.pid, signal.SIGKILL)  # the kubelet dies hard
    await kubelet.wait()

    # A new kubelet (this process) finds the pod running, and its log still growing.
    (status,) = await runtime.list_containers(sid)
    assert (status.id, status.state) == (cid, cri.ContainerState.RUNNING)
    before = len(await asyncio.to_thread(read_log, status.log_path))
    await asyncio.sleep(0.5)
    after = await asyncio.to_thread(read_log, status.log_path)
    assert len(after) > before
    await runtime.stop_container(cid, timeout=0.5)
    final = await wait_exited(runtime, cid)
    assert final.exit_code == 137  # sh as pid 1 ignores SIGTERM: killed after the grace period


class LoopbackAddressNetwork:
    """A stand-in pod network: one address on the namespace's loopback."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    async def setup(
        self, sandbox_id: str, netns_path: str, config: cri.PodSandboxConfig
    ) -> list[str]:
        self.calls.append(("setup", sandbox_id))
        name = Path(netns_path).name
        await command.run("ip", "-n", name, "addr", "add", "10.99.0.5/32", "dev", "lo")
        return ["10.99.0.5"]

    async def teardown(
        self, sandbox_id: str, netns_path: str, config: cri.PodSandboxConfig
    ) -> None:
        self.calls.append(("teardown", sandbox_id))


async def test_pod_network_plugin_gives_the_pod_its_address(
    busybox_layer: Path, tmp_path: Path
) -> None:
    network = LoopbackAddressNetwork()
    rt = RuncRuntime(tmp_path / "netdata", network=network)
    sb = pod_config("netpod", tmp_path)
    sid = await rt.run_pod_sandbox(sb)
    try:
        assert (await rt.pod_sandbox_status(sid)).ips == ("10.99.0.5",)
        cfg = container_config(
            "c",
            busybox_layer,
            ["sh", "-c", "grep netpod /etc/hosts; ip -o addr show lo | grep -c 10.99"],
        )
        status = await wait_exited(rt, await run_container(rt, sid, sb, cfg))
        lines = [e.content.decode() for e in read_log(status.log_path)]
        assert lines == ["10.99.0.5\tnetpod", "1"]
        await rt.stop_pod_sandbox(sid)
        sandbox = await rt.pod_sandbox_status(sid)
        assert (sandbox.state, sandbox.ips) == (cri.SandboxState.NOTREADY, ())
        assert network.calls == [("setup", sid), ("teardown", sid)]
    finally:
        await rt.remove_pod_sandbox(sid)
        from pyk8s.kubelet.runtime import killall

        await killall.killall(rt.naming.prefix)
        assert await asyncio.to_thread(killall.leftovers, rt.naming.prefix) == []


async def test_port_forward_into_the_pod_network_namespace(
    runtime: RuncRuntime, busybox_layer: Path, tmp_path: Path
) -> None:
    sb = pod_config("pf", tmp_path)
    sid = await runtime.run_pod_sandbox(sb)
    server = container_config(
        "web",
        busybox_layer,
        [
            "sh",
            "-c",
            "mkdir /www; echo hello pf > /www/index.html; echo up;"
            " exec httpd -f -p 127.0.0.1:8080 -h /www",
        ],
    )
    cid = await run_container(runtime, sid, sb, server)
    await wait_logged(runtime, cid, b"up")
    for _ in range(100):  # httpd binds just after "up"
        try:
            reader, writer = await runtime.port_forward(sid, 8080)
            break
        except cri.ContainerRuntimeError:
            await asyncio.sleep(0.05)
    writer.write(b"GET /index.html HTTP/1.0\r\n\r\n")
    await writer.drain()
    response = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    assert response.startswith(b"HTTP/1.")
    assert response.endswith(b"hello pf\n")
    with pytest.raises(cri.ContainerRuntimeError) as refused:
        await runtime.port_forward(sid, 8081)
    # containerd's text, which kubectl port-forward prints
    assert (
        f'failed to connect to localhost:8081 inside namespace "{sid}", IPv4: dial tcp4 '
        "127.0.0.1:8081: connect: connection refused IPv6 dial tcp6 [::1]:8081: connect: "
        in str(refused.value)
    )


async def test_share_process_namespace(
    runtime: RuncRuntime, busybox_layer: Path, tmp_path: Path
) -> None:
    sb = pod_config("sharepid", tmp_path, share_process_namespace=True)
    sid = await runtime.run_pod_sandbox(sb)
    app = container_config("app", busybox_layer, ["sh", "-c", "echo up; exec sleep 1000"])
    app_id = await run_container(runtime, sid, sb, app)
    await wait_logged(runtime, app_id, b"up")
    # A second container sees the first one's processes, and pid 1 is not one of them.
    probe = container_config(
        "probe",
        busybox_layer,
        ["sh", "-c", "ps -o args | grep -c '^sleep 1000'; cat /proc/1/cmdline | tr '\\0' ' '"],
    )
    status = await wait_exited(runtime, await run_container(runtime, sid, sb, probe))
    lines = [e.content.decode().strip() for e in read_log(status.log_path)]
    assert lines[0] == "1"
    assert "pyk8s.kubelet.runtime.pidns" in lines[1]
    # Killing the app's init leaves the pod's namespace (and pid 1) in place.
    await runtime.stop_container(app_id, timeout=0)
    again = container_config("again", busybox_layer, ["sh", "-c", "echo alive"])
    status = await wait_exited(runtime, await run_container(runtime, sid, sb, again))
    assert [e.content for e in read_log(status.log_path)] == [b"alive"]
