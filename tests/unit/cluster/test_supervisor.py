"""The supervisor of ``pyk8s server``'s child components, with small Python scripts as the
children: output prefixed, restarts with growing back-off that resets, SIGTERM then SIGKILL
on stop, and the child dying with its parent."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time

import pytest

from pyk8s.cluster import supervisor


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie is dead for our purpose
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def _script(code: str, name: str = "fake") -> supervisor.Child:
    return supervisor.Child(name, [sys.executable, "-c", code])


class Recorder:
    def __init__(self) -> None:
        self.lines: list[bytes] = []
        self.delays: list[float] = []

    def output(self, line: bytes) -> None:
        self.lines.append(line)

    async def sleep(self, delay: float) -> None:
        self.delays.append(delay)
        await asyncio.sleep(0)


async def _until(what: str, cond: object, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


async def test_output_is_prefixed_and_a_dead_child_is_restarted_with_growing_backoff() -> None:
    rec = Recorder()
    sup = supervisor.Supervisor(
        _script("print('hello'); print('partial', end=''); raise SystemExit(3)", "sched"),
        supervisor.Policy(initial_backoff=0.5, max_backoff=2.0, reset_after=60),
        output=rec.output,
        sleep=rec.sleep,
    )
    task = asyncio.create_task(sup.run())
    try:
        await _until("five starts", lambda: len(rec.delays) >= 5)
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert sup.starts >= 5
    assert rec.delays[:5] == [0.5, 1.0, 2.0, 2.0, 2.0]
    assert rec.lines[:2] == [b"[sched] hello\n", b"[sched] partial\n"]


async def test_backoff_resets_after_a_long_enough_run() -> None:
    rec = Recorder()
    sup = supervisor.Supervisor(
        _script("import time; time.sleep(0.3)"),
        supervisor.Policy(initial_backoff=0.5, max_backoff=4.0, reset_after=0.2),
        output=rec.output,
        sleep=rec.sleep,
    )
    task = asyncio.create_task(sup.run())
    try:
        await _until("three exits", lambda: len(rec.delays) >= 3)
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert rec.delays[:3] == [0.5, 0.5, 0.5]


async def test_stop_sends_sigterm_and_the_child_exits() -> None:
    rec = Recorder()
    code = (
        "import signal, sys, time\n"
        "def bye(*a):\n print('got TERM', flush=True); sys.exit(0)\n"
        "signal.signal(signal.SIGTERM, bye)\n"
        "print('up', flush=True)\n"
        "time.sleep(60)\n"
    )
    sup = supervisor.Supervisor(_script(code), supervisor.Policy(grace=10), output=rec.output)
    task = asyncio.create_task(sup.run())
    await _until("the child's first line", lambda: rec.lines)
    pid = sup.pid
    assert pid is not None and _alive(pid)
    began = time.monotonic()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert time.monotonic() - began < 10  # SIGTERM was enough, no waiting for the grace
    assert not _alive(pid)
    assert b"[fake] got TERM\n" in rec.lines
    assert sup.starts == 1


async def test_stop_kills_a_child_that_ignores_sigterm() -> None:
    rec = Recorder()
    code = (
        "import signal, time\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "print('up', flush=True)\n"
        "time.sleep(60)\n"
    )
    sup = supervisor.Supervisor(_script(code), supervisor.Policy(grace=0.5), output=rec.output)
    task = asyncio.create_task(sup.run())
    await _until("the child's first line", lambda: rec.lines)
    pid = sup.pid
    assert pid is not None
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not _alive(pid)


async def test_a_killed_child_is_started_again() -> None:
    rec = Recorder()
    sup = supervisor.Supervisor(
        _script("import time; print('up', flush=True); time.sleep(60)"),
        supervisor.Policy(initial_backoff=0.1),
        output=rec.output,
        sleep=rec.sleep,
    )
    task = asyncio.create_task(sup.run())
    try:
        await _until("the first start", lambda: sup.pid is not None)
        first = sup.pid
        assert first is not None
        sup.started.clear()
        os.kill(first, signal.SIGKILL)
        await asyncio.wait_for(sup.started.wait(), 20)
        assert sup.pid not in (None, first)
        assert sup.starts == 2 and rec.delays == [0.1]
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


PARENT = """
import os, subprocess, sys, time
env = {**os.environ, "PYK8S_SUPERVISOR_PID": str(os.getpid())}
child = subprocess.Popen([sys.executable, "-c", sys.argv[1]], env=env, stdout=subprocess.PIPE)
print(child.stdout.readline().decode().strip(), flush=True)
time.sleep(60)
"""
CHILD = """
import os, time
from pyk8s.cluster import supervisor
supervisor.die_with_parent()
assert "PYK8S_SUPERVISOR_PID" not in os.environ
print(os.getpid(), flush=True)
time.sleep(60)
"""


@pytest.mark.allow_blocking
def test_the_child_dies_when_its_parent_is_killed() -> None:
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT, CHILD], stdout=subprocess.PIPE, cwd=os.getcwd()
    )
    try:
        assert parent.stdout is not None
        line = parent.stdout.readline().decode().strip()
        assert line.isdigit(), f"the child did not start: {line!r}"
        child = int(line)
        assert _alive(child)
    finally:
        parent.kill()
        parent.wait()
    deadline = time.monotonic() + 10
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    alive = _alive(child)
    if alive:
        os.kill(child, signal.SIGKILL)
    assert not alive, "the child outlived its killed parent"
