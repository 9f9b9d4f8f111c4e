"""``PipeExec``: a command's stderr and stdout reach the client in the order it wrote them,
and runc's own complaint (when it cannot start the command) is kept out of the output."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from pyk8s.kubelet.runtime import sessions


async def _order(session: sessions.PipeExec) -> list[tuple[str, bytes]]:
    """What a client sees, in order: the two streams read as the kubelet reads them."""
    seen: list[tuple[str, bytes]] = []

    async def pump(name: str, reader: asyncio.StreamReader | None) -> None:
        assert reader is not None
        while chunk := await reader.read(65536):
            seen.append((name, chunk))

    await asyncio.gather(pump("stdout", session.stdout), pump("stderr", session.stderr))
    return seen


async def _start(script: str, tmp_path: Path) -> sessions.PipeExec:
    proc = await asyncio.create_subprocess_exec(
        "sh", "-c", script, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )  # fmt: skip
    # runc writes the pid file only once the command runs: here it never appears
    return sessions.PipeExec(proc, tmp_path / "exec.pid", "t")


async def test_stderr_written_first_is_not_overtaken_by_stdout(tmp_path: Path) -> None:
    # what tar does for a missing path: complain, then end its archive, then exit
    for _ in range(5):
        session = await _start("echo complaint >&2; echo archive; exit 1", tmp_path)
        seen = await _order(session)
        assert await session.wait() == 1
        assert seen == [("stderr", b"complaint\n"), ("stdout", b"archive\n")]


async def test_runc_complaint_is_kept_out(tmp_path: Path) -> None:
    log = tmp_path / "exec.log"
    log.write_text(json.dumps({"level": "error", "msg": "exec failed: no such thing"}) + "\n")
    session = await _start("echo 'exec failed: no such thing' >&2; exit 255", tmp_path)
    assert await _order(session) == []
    with pytest.raises(sessions.ExecStartError, match="OCI runtime exec failed: exec failed"):
        await session.wait()


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return False
    return stat[stat.rindex(b")") + 2 :].split()[0] != b"Z"


async def test_kill_tree_ends_what_the_command_started(tmp_path: Path) -> None:
    proc = await asyncio.create_subprocess_exec("sh", "-c", "sleep 1001 & sleep 1002 & wait")
    for _ in range(100):
        children = await asyncio.to_thread(sessions._children)
        if len(children.get(proc.pid, [])) == 2:
            break
        await asyncio.sleep(0.02)
    sleeps = children[proc.pid]
    assert len(sleeps) == 2
    await asyncio.to_thread(sessions.kill_tree, proc.pid)
    assert await asyncio.wait_for(proc.wait(), 10) == -9
    for _ in range(100):
        if not any(_alive(p) for p in sleeps):
            break
        await asyncio.sleep(0.05)
    assert not any(_alive(p) for p in sleeps)
