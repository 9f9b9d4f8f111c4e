"""Streams of ``exec`` and ``attach`` sessions, as the runtime hands them to the kubelet.

Three kinds: ``runc exec`` with pipes; ``runc exec --tty`` on a pty of ours; and an attach
connection to the container's shim (:mod:`.attach`).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
import signal
import struct
import termios
from collections.abc import Awaitable, Callable
from pathlib import Path

from pyk8s.kubelet.runtime import attach


class ExecStartError(Exception):
    """runc could not start the exec'd command."""


def _runc_failure(log_file: Path) -> str | None:
    """The last error runc logged (``--log-format json``), if any."""
    try:
        lines = log_file.read_text().splitlines()
    except OSError:
        return None
    for line in reversed(lines):
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if entry.get("level") in ("error", "fatal") and entry.get("msg"):
            return str(entry["msg"])
    return None


def read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def _children() -> dict[int, list[int]]:
    """Every process's children, from ``/proc/<pid>/stat`` (the parent follows the
    state, after the command's name in parentheses)."""
    out: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as f:
                stat = f.read()
            ppid = int(stat[stat.rindex(b")") + 2 :].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        out.setdefault(ppid, []).append(int(entry.name))
    return out


def kill_tree(root: int) -> None:
    """SIGKILL ``root`` and its descendants. They are stopped first, until no new one
    appears, so that none forks past the look nor is left to the container's init (which
    would not know to end it) by a parent killed before it."""
    stopped: set[int] = set()
    for _ in range(5):
        children = _children()
        found, todo = [], [root]
        while todo:
            pid = todo.pop()
            if pid not in stopped:
                found.append(pid)
            todo.extend(children.get(pid, ()))
        if not found:
            break
        for pid in found:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGSTOP)
        stopped.update(found)
    for pid in stopped:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


class PipeExec:
    """``runc exec`` without a tty: the subprocess's own pipes."""

    def __init__(self, proc: asyncio.subprocess.Process, pid_file: Path, tag: str = "") -> None:
        self._proc = proc
        self._pid_file = pid_file
        self._tag = tag
        self._started = False  # the command is known to run
        self._check: asyncio.Future[bool] | None = None
        self._held = b""  # stderr held back until then
        self.stdin = proc.stdin
        assert proc.stdout is not None
        self.stdout = asyncio.StreamReader()
        self.stderr: asyncio.StreamReader | None = None
        self._stdout_pump: asyncio.Future[None] | None = asyncio.ensure_future(
            self._pump_stdout(proc.stdout)
        )
        self._stderr_pump: asyncio.Future[None] | None = None
        if proc.stderr is not None:
            self.stderr = asyncio.StreamReader()
            self._stderr_pump = asyncio.ensure_future(self._pump_stderr(proc.stderr))

    async def _running(self) -> bool:
        """Whether the command runs: its output on stdout, or the pid file seen (looked for
        in a thread, one look at a time, not again once seen)."""
        if self._started:
            return True
        if self._check is None:
            self._check = asyncio.ensure_future(asyncio.to_thread(self._pid_file.exists))
        check = self._check
        if await asyncio.shield(check):
            self._started = True
        if self._check is check:
            self._check = None
        return self._started

    def _release(self) -> None:
        """Pass on what stderr held back."""
        if self._held and self.stderr is not None:
            self.stderr.feed_data(self._held)
        self._held = b""

    async def _pump_stdout(self, source: asyncio.StreamReader) -> None:
        """Pass stdout on. runc writes nothing there: output on stdout means the command
        runs, so what stderr held back is the command's own and goes first, in the order
        the command wrote them (``tar`` complains on stderr before it ends its archive on
        stdout, and ``kubectl cp`` stops reading when the archive ends)."""
        try:
            while chunk := await source.read(65536):
                if not self._started:
                    # let stderr take what the same turn of the loop read for it
                    await asyncio.sleep(0)
                    self._started = True
                    self._release()
                self.stdout.feed_data(chunk)
        finally:
            self.stdout.feed_eof()

    async def _pump_stderr(self, source: asyncio.StreamReader) -> None:
        """Pass stderr on, except runc's own complaint when it cannot start the command:
        what comes before the command is known to run is held back until it is."""
        assert self.stderr is not None
        try:
            while chunk := await source.read(65536):
                if not self._started:
                    self._held += chunk
                    if await self._running():
                        self._release()
                    continue
                self.stderr.feed_data(chunk)
            code = await self._proc.wait()
            log_file = self._pid_file.with_suffix(".log")
            failure = await asyncio.to_thread(_runc_failure, log_file) if code == 255 else None
            if not failure:
                self._release()
        finally:
            self.stderr.feed_eof()

    async def wait(self) -> int:
        """The exit code; :class:`ExecStartError` when runc could not start the command."""
        code = await self._proc.wait()
        for pump in (self._stdout_pump, self._stderr_pump):
            if pump is not None:
                with contextlib.suppress(Exception):
                    await pump
        await asyncio.to_thread(self._pid_file.unlink, True)
        log_file = self._pid_file.with_suffix(".log")
        failure = await asyncio.to_thread(_runc_failure, log_file) if code == 255 else None
        await asyncio.to_thread(log_file.unlink, True)
        if failure:
            # containerd's words around runc's, as the kubelet passes them on
            raise ExecStartError(
                f'failed to exec in container: failed to start exec "{self._tag}": '
                f"OCI runtime exec failed: {failure}: unknown"
            )
        return code

    async def kill(self) -> None:
        """SIGKILL the exec'd process and what it started (``runc exec`` cannot forward
        SIGKILL): a client gone mid-exec leaves nothing running in the container.

        ``runc exec`` is left to reap it and exit: killing ``runc exec`` first would orphan
        the process to the host's init, and a zombie in the container's pid namespace holds
        up the container's own exit until someone reaps it."""
        pid = await asyncio.to_thread(read_pid, self._pid_file)
        if pid is not None:
            await asyncio.to_thread(kill_tree, pid)
            return
        with contextlib.suppress(ProcessLookupError):
            self._proc.kill()

    async def resize(self, cols: int, rows: int) -> None:
        return None


class _FdInput:
    """Writes to a non-blocking fd (a pty master) from the event loop."""

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._buf = bytearray()
        self._closed = False

    def write(self, data: bytes) -> None:
        self._buf += data

    async def drain(self) -> None:
        loop = asyncio.get_running_loop()
        while self._buf and not self._closed:
            try:
                n = os.write(self._fd, self._buf)
                del self._buf[:n]
            except BlockingIOError:
                ready = loop.create_future()
                loop.add_writer(self._fd, ready.set_result, None)
                try:
                    await ready
                finally:
                    loop.remove_writer(self._fd)

    def close(self) -> None:
        # A tty has no half-close: end of input is ^D to its line discipline.
        if not self._closed:
            self._buf += b"\x04"
            with contextlib.suppress(OSError):
                n = os.write(self._fd, self._buf)
                del self._buf[:n]


def _pty_reader(fd: int) -> asyncio.StreamReader:
    """A StreamReader fed from a pty master; EIO (the other side closed) is end of file."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()

    def on_readable() -> None:
        try:
            data = os.read(fd, 65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if data:
            reader.feed_data(data)
        else:
            loop.remove_reader(fd)
            reader.feed_eof()

    loop.add_reader(fd, on_readable)
    return reader


class PtyExec(PipeExec):
    """``runc exec --tty`` on a pty of ours: runc proxies it to the container's own pty and
    forwards our window size to it on SIGWINCH."""

    def __init__(  # no super().__init__: there are no pipes
        self, proc: asyncio.subprocess.Process, pid_file: Path, master: int, tag: str = ""
    ) -> None:
        self._proc = proc
        self._pid_file = pid_file
        self._tag = tag
        os.set_blocking(master, False)
        self._master = master
        self.stdin = _FdInput(master)  # type: ignore[assignment]
        self.stdout = _pty_reader(master)
        self.stderr = None
        self._stdout_pump = None
        self._stderr_pump = None

    async def wait(self) -> int:
        try:
            return await super().wait()
        finally:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.stdout.read(), 2)  # let the reader see EOF
            loop = asyncio.get_running_loop()
            loop.remove_reader(self._master)
            with contextlib.suppress(OSError):
                os.close(self._master)

    async def resize(self, cols: int, rows: int) -> None:
        with contextlib.suppress(OSError):
            fcntl.ioctl(self._master, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        with contextlib.suppress(ProcessLookupError):
            self._proc.send_signal(signal.SIGWINCH)


class _AttachInput:
    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self._writer = writer

    def write(self, data: bytes) -> None:
        self._writer.write(attach.frame(attach.STDIN, data))

    async def drain(self) -> None:
        await self._writer.drain()

    def close(self) -> None:
        self._writer.write(attach.frame(attach.CLOSE_STDIN))


class AttachSession:
    """A connection to a container's shim; output demultiplexed into stdout/stderr."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        *,
        stdin: bool,
        tty: bool,
        exit_code: Callable[[], Awaitable[int]],
    ) -> None:
        self._writer = writer
        self._exit_code = exit_code
        self.stdin: _AttachInput | None = _AttachInput(writer) if stdin else None
        if stdin:  # attached with stdin: under stdinOnce, leaving closes the container's
            writer.write(attach.frame(attach.STDIN))
        self.stdout = asyncio.StreamReader()
        self.stderr: asyncio.StreamReader | None = None if tty else asyncio.StreamReader()
        self._pump = asyncio.ensure_future(self._demux(reader))

    async def _demux(self, reader: asyncio.StreamReader) -> None:
        decoder = attach.Decoder()
        try:
            while data := await reader.read(65536):
                for kind, payload in decoder.feed(data):
                    if kind == attach.STDERR and self.stderr is not None:
                        self.stderr.feed_data(payload)
                    else:
                        self.stdout.feed_data(payload)
        except (OSError, ValueError):
            pass
        finally:
            self.stdout.feed_eof()
            if self.stderr is not None:
                self.stderr.feed_eof()

    async def wait(self) -> int:
        await self._pump
        self._writer.close()
        with contextlib.suppress(OSError):
            await self._writer.wait_closed()
        return await self._exit_code()

    async def kill(self) -> None:
        """Detach (the container keeps running)."""
        self._writer.close()
        self._pump.cancel()

    async def resize(self, cols: int, rows: int) -> None:
        self._writer.write(attach.frame(attach.RESIZE, f"{cols} {rows}".encode()))
        await self._writer.drain()
