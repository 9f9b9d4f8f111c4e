"""Runs a component of ``pyk8s server`` as a child process and keeps it running.

The server's own supervisor, in the place systemd or the kubelet's static pods take for
kubeadm's control plane: the child (``python -m pyk8s scheduler ...``) is started once the
API server is ready, its output goes to the server's stderr with the component's name in
front of every line, it is started again with exponential back-off when it exits (reset
once it has run for a while, as the kubelet's CrashLoopBackOff resets), and when the server
stops it gets SIGTERM, then SIGKILL after a grace period. The child also asks the kernel
for SIGTERM when the server dies without stopping it (``PR_SET_PDEATHSIG``, set by
:func:`die_with_parent` in the child when :data:`PARENT_ENV` is set), so a killed server
leaves no component behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import os
import signal
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

PARENT_ENV = "PYK8S_SUPERVISOR_PID"
"""Set in a child's environment to the server's pid: the child dies with the server."""
_PR_SET_PDEATHSIG = 1


@dataclass
class Child:
    """One component to keep running: its name (the log prefix) and its command line."""

    name: str
    argv: Sequence[str]
    env: dict[str, str] = field(default_factory=dict)
    """Added to the server's environment."""


@dataclass
class Policy:
    initial_backoff: float = 1.0
    max_backoff: float = 60.0
    reset_after: float = 60.0
    """A child that ran this long before exiting is restarted after ``initial_backoff``."""
    grace: float = 5.0
    """Seconds between SIGTERM and SIGKILL when the server stops."""


def _stderr(line: bytes) -> None:
    out = sys.stderr.buffer
    out.write(line)
    out.flush()


@dataclass
class Supervisor:
    """Keeps ``child`` running until :meth:`run` is cancelled."""

    child: Child
    policy: Policy = field(default_factory=Policy)
    output: Callable[[bytes], None] = _stderr
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    """Waits out a back-off (a test records the delays)."""
    starts: int = 0
    """How many times the child was started (for tests and logs)."""
    pid: int | None = None
    """The running child's pid, None between runs."""
    started: asyncio.Event = field(default_factory=asyncio.Event)
    """Set each time a child is started (a test clears it to wait for the next)."""

    async def run(self) -> None:
        backoff = self.policy.initial_backoff
        while True:
            began = time.monotonic()
            code = await self._run_once()
            ran = time.monotonic() - began
            if ran >= self.policy.reset_after:
                backoff = self.policy.initial_backoff
            log.warning(
                "%s exited with code %s after %.1fs; starting it again in %.1fs",
                self.child.name,
                code,
                ran,
                backoff,
            )
            await self.sleep(backoff)
            backoff = min(backoff * 2, self.policy.max_backoff)

    async def _run_once(self) -> int:
        env = {**os.environ, **self.child.env, PARENT_ENV: str(os.getpid())}
        proc = await asyncio.create_subprocess_exec(
            *self.child.argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            env=env,
            # its own session: a terminal's Ctrl-C reaches the server, which stops it in order
            start_new_session=True,
        )
        self.starts += 1
        self.pid = proc.pid
        self.started.set()
        log.info("started %s (pid %d)", self.child.name, proc.pid)
        assert proc.stdout is not None
        pump = asyncio.create_task(self._pump(proc.stdout))
        try:
            code = await proc.wait()
            await pump
            return code
        finally:
            self.pid = None
            if proc.returncode is None:
                await asyncio.shield(self._stop(proc, pump))
            pump.cancel()

    async def _pump(self, stream: asyncio.StreamReader) -> None:
        prefix = f"[{self.child.name}] ".encode()
        while True:
            try:
                line = await stream.readline()
            except ValueError:  # a line longer than the reader's limit: pass on what is there
                line = await stream.read(65536)
            if not line:
                return
            self.output(prefix + (line if line.endswith(b"\n") else line + b"\n"))

    async def _stop(self, proc: asyncio.subprocess.Process, pump: asyncio.Task[None]) -> None:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(proc.wait(), self.policy.grace)
        except TimeoutError:
            log.warning("%s did not stop in %.0fs: killing it", self.child.name, self.policy.grace)
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
        with contextlib.suppress(TimeoutError, asyncio.CancelledError):
            await asyncio.wait_for(pump, 1.0)


def die_with_parent() -> None:
    """In a supervised child: SIGTERM when the server that started it dies (Linux only)."""
    parent = os.environ.pop(PARENT_ENV, "")
    if not parent or not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != int(parent):  # the server died before prctl: it will not tell us
        os.kill(os.getpid(), signal.SIGTERM)
