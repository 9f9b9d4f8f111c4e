"""Interactive streams: exec with a tty, attach to stdin, and tty containers (kubectl run -it)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from pyk8s.kubelet.runtime import interface as cri
from pyk8s.kubelet.runtime.runc import RuncRuntime
from tests.e2e.kubelet.conftest import container_config, pod_config, run_container, wait_exited
from tests.e2e.kubelet.test_runc import read_log

pytestmark = pytest.mark.e2e


async def read_until(reader: asyncio.StreamReader, marker: bytes, timeout: float = 30) -> bytes:
    data = b""
    async with asyncio.timeout(timeout):
        while marker not in data:
            chunk = await reader.read(4096)
            if not chunk:
                break
            data += chunk
    return data


async def test_exec_with_tty_and_resize(
    runtime: RuncRuntime, busybox_layer: Path, tmp_path: Path
) -> None:
    sb = pod_config("ttyexec", tmp_path)
    sid = await runtime.run_pod_sandbox(sb)
    cid = await run_container(
        runtime, sid, sb, container_config("c", busybox_layer, ["sleep", "1000"])
    )
    session = await runtime.exec(cid, ["sh"], stdin=True, tty=True)
    assert session.stderr is None and session.stdin is not None
    await session.resize(100, 30)
    # runc applies a resize asynchronously (on SIGWINCH): wait until the container sees it.
    session.stdin.write(
        b'tty; until [ "$(stty size)" = "30 100" ]; do sleep 0.05; done 2>/dev/null;'
        b" echo size $(stty size); exit 3\n"
    )
    await session.stdin.drain()
    out = await read_until(session.stdout, b"size 30 100")
    assert b"/dev/pts/" in out
    assert b"size 30 100" in out
    assert await session.wait() == 3


async def test_attach_to_stdin_of_a_running_container(
    runtime: RuncRuntime, busybox_layer: Path, tmp_path: Path
) -> None:
    sb = pod_config("attach", tmp_path)
    sid = await runtime.run_pod_sandbox(sb)
    cfg = container_config(
        "c",
        busybox_layer,
        ["sh", "-c", "while read line; do echo got $line; echo err $line >&2; done; exit 4"],
        stdin=True,
        stdin_once=True,
    )
    cid = await run_container(runtime, sid, sb, cfg)
    session = await runtime.attach(cid, stdin=True)
    assert session.stdin is not None and session.stderr is not None
    session.stdin.write(b"one\ntwo\n")
    await session.stdin.drain()
    assert await read_until(session.stdout, b"got two") == b"got one\ngot two\n"
    assert await read_until(session.stderr, b"err two") == b"err one\nerr two\n"
    session.stdin.close()  # end of input: the loop ends, the container exits
    assert await session.wait() == 4
    status = await wait_exited(runtime, cid)
    assert status.exit_code == 4
    assert [e.content for e in read_log(status.log_path) if e.stream == "stdout"] == [
        b"got one",
        b"got two",
    ]
    with pytest.raises(cri.ContainerRuntimeError):
        await runtime.attach(cid)


async def test_tty_container_like_kubectl_run_it(
    runtime: RuncRuntime, busybox_layer: Path, tmp_path: Path
) -> None:
    sb = pod_config("runit", tmp_path)
    sid = await runtime.run_pod_sandbox(sb)
    cfg = container_config("c", busybox_layer, ["sh"], stdin=True, stdin_once=True, tty=True)
    cid = await run_container(runtime, sid, sb, cfg)
    session = await runtime.attach(cid, stdin=True)
    assert session.stdin is not None and session.stderr is None
    session.stdin.write(b"echo hello from $(hostname); exit 7\n")
    await session.stdin.drain()
    out = await read_until(session.stdout, b"hello from runit")
    assert b"hello from runit" in out
    assert await session.wait() == 7
    status = await wait_exited(runtime, cid)
    assert status.exit_code == 7
    logged = b"\n".join(e.content for e in read_log(status.log_path))
    assert b"hello from runit" in logged
