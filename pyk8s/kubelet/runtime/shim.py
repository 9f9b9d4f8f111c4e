"""The per-container shim: owns a container's stdio and records its exit.

``python -m pyk8s.kubelet.runtime.shim --id ID ...`` is started by :mod:`.runc` for every
container. It detaches (double fork, new session), becomes a child subreaper, and runs
``runc create`` with pipes as the container's stdout and stderr (or, for a tty, receives the
pty master through ``--console-socket``). When ``runc create`` returns, the container's init
process (blocked until ``runc start``) is re-parented to the shim, which reports ``ok <pid>``
to whoever started it and then:

- copies the output into the container's log file in the CRI format (:mod:`.logs`), reopening
  the file on SIGUSR1 (after the kubelet rotated it);
- serves attach clients on a unix socket (:mod:`.attach`): output is copied to them, their
  input goes to the container's stdin (a pipe, or the pty), and resizes to the pty;
- reaps the container's init process, reads the OOM-kill counter of its cgroup, and writes
  ``exit.json`` (exit code, finish time, ``oom_killed``) atomically next to the bundle.

Why a shim: it is what containerd (``containerd-shim-runc-v2``) and CRI-O (``conmon``) do, and
it is the only way to get all of: the exit code of a detached container (only its parent, or a
subreaper above it, can ``wait`` for it), log capture with timestamps, and containers that keep
running, keep logging and get their exit recorded while the kubelet is down or restarting. The
shim imports only the standard library and small stdlib-only modules of this package; it costs
one small process per running container (measured: 10.7 MB RSS, 6 MB of it private).

A shim never talks to the kubelet after ``ok``: everything else goes through files in the
container's state directory, which a restarted kubelet reads back (adoption).
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import os
import select
import signal
import socket
import struct
import sys
import termios
import time

from pyk8s.kubelet.runtime import attach, cgroups, logs

PR_SET_CHILD_SUBREAPER = 36
DRAIN_AFTER_EXIT = 2.0  # seconds to wait for EOF once the container's init has exited
CLIENT_SEND_TIMEOUT = 2.0  # an attach client slower than this is dropped


class Args:
    """The shim's flags (parsed by hand: argparse alone costs tens of milliseconds of start-up,
    paid at every container start)."""

    id = ""
    runc = "runc"
    root = ""  # runc --root
    bundle = ""
    log = ""  # the CRI log file
    state = ""  # directory for exit.json, shim.pid, init.pid
    cgroup = ""
    attach_socket = ""  # unix socket for attach clients
    stdin = False  # keep the container's stdin open
    stdin_once = False  # close stdin after the first attach client leaves
    tty = False  # give the container a pty


_VALUE_FLAGS = ("id", "runc", "root", "bundle", "log", "state", "cgroup", "attach-socket")
_BOOL_FLAGS = ("stdin", "stdin-once", "tty")


def parse_args(argv: list[str]) -> Args:
    args = Args()
    it = iter(argv)
    for arg in it:
        name = arg.removeprefix("--")
        if name in _VALUE_FLAGS:
            value = next(it, None)
            if value is None:
                raise SystemExit(f"pyk8s-shim: {arg} needs a value")
            setattr(args, name.replace("-", "_"), value)
        elif name in _BOOL_FLAGS:
            setattr(args, name.replace("-", "_"), True)
        else:
            raise SystemExit(f"pyk8s-shim: unknown argument {arg!r}")
    for required in ("id", "root", "bundle", "log", "state", "cgroup"):
        if not getattr(args, required):
            raise SystemExit(f"pyk8s-shim: --{required} is required")
    return args


def _max_fd() -> int:
    try:
        return min(os.sysconf("SC_OPEN_MAX"), 1 << 20)
    except (ValueError, OSError):
        return 1024


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    # Inherit nothing but stdio: uvloop (the CLI's loop) leaks duplicates of the spawning
    # process's pipe ends into children, and a daemon holding the write end of our own
    # stdout would keep the kubelet waiting for EOF forever.
    os.closerange(3, _max_fd())
    report_r, report_w = os.pipe()
    if os.fork() != 0:
        os.close(report_w)
        chunks = []
        while chunk := os.read(report_r, 65536):
            chunks.append(chunk)
        msg = b"".join(chunks).decode(errors="replace")
        sys.stdout.write(msg)
        sys.stdout.flush()
        return 0 if msg.startswith("ok ") else 1
    os.close(report_r)
    try:
        Shim(args).run(report_w)
    except BaseException as e:  # the report pipe is the only way to tell anyone
        with contextlib.suppress(OSError):
            os.write(report_w, f"error shim: {e!r}".encode())
        os._exit(1)
    os._exit(0)


class Shim:
    def __init__(self, args: Args) -> None:
        self.args = args
        self.stdin_w: int | None = None  # where attach input goes (pipe or pty master)
        self.master: int | None = None
        self.outputs: dict[int, str] = {}  # fd -> stream name
        self.clients: dict[int, tuple[socket.socket, attach.Decoder, bool]] = {}
        self.listener: socket.socket | None = None
        self.log_fd = -1
        self.splitters: dict[int, logs.LineSplitter] = {}
        self.reopen = False

    # ----- start-up

    def run(self, report_w: int) -> None:
        args = self.args
        os.setsid()
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")
        with open(os.path.join(args.state, "shim.pid"), "w") as f:
            f.write(str(os.getpid()))
        if args.attach_socket:
            self.listener = _listen(args.attach_socket)

        devnull = os.open(os.devnull, os.O_RDWR)
        pid_file = os.path.join(args.state, "init.pid")
        runc_log = os.path.join(args.state, "runc.log")
        cmd = [args.runc, "--root", args.root, "--log", runc_log, "--log-format", "json"]
        cmd += ["create", "--bundle", args.bundle, "--pid-file", pid_file]
        console: socket.socket | None = None
        child_fds: list[int] = []
        if args.tty:
            console_path = os.path.join(os.path.dirname(args.attach_socket), "console.sock")
            console = _listen(console_path)
            cmd += ["--console-socket", console_path]
            stdio = (devnull, devnull, devnull)
        else:
            out_r, out_w = os.pipe()
            err_r, err_w = os.pipe()
            self.outputs = {out_r: logs.STDOUT, err_r: logs.STDERR}
            in_fd = devnull
            if args.stdin:
                in_fd, self.stdin_w = os.pipe()
                child_fds.append(in_fd)
            stdio = (in_fd, out_w, err_w)
            child_fds += [out_w, err_w]
        # posix_spawn rather than subprocess: one import less at every container start.
        actions = [(os.POSIX_SPAWN_DUP2, fd, target) for target, fd in enumerate(stdio)]
        pid = os.posix_spawnp(cmd[0], [*cmd, args.id], os.environ, file_actions=actions)
        for fd in child_fds:
            os.close(fd)
        _, wait_status = os.waitpid(pid, 0)
        if os.waitstatus_to_exitcode(wait_status) != 0:
            os.write(report_w, f"error runc create: {_runc_error(runc_log)}".encode())
            os.close(report_w)
            return
        if console is not None:
            self.master = _receive_master(console)
            console.close()
            os.unlink(console_path)
            self.outputs = {self.master: logs.STDOUT}
            self.stdin_w = self.master
        with open(pid_file) as f:
            init_pid = int(f.read().strip())

        # Detach from the starter's stdio for good; keep our own errors in the state dir.
        os.dup2(devnull, 0)
        os.dup2(devnull, 1)
        shim_log = os.open(os.path.join(args.state, "shim.log"), os.O_WRONLY | os.O_CREAT, 0o640)
        os.dup2(shim_log, 2)
        os.write(report_w, f"ok {init_pid}".encode())
        os.close(report_w)
        self.serve(init_pid)

    # ----- main loop

    def serve(self, init_pid: int) -> None:
        wake_r, wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        signal.set_wakeup_fd(wake_w)

        def on_usr1(_sig: int, _frame: object) -> None:
            self.reopen = True

        signal.signal(signal.SIGUSR1, on_usr1)
        signal.signal(signal.SIGCHLD, lambda _s, _f: None)
        signal.signal(signal.SIGPIPE, signal.SIG_IGN)

        self.log_fd = logs.open_log(self.args.log)
        self.splitters = {fd: logs.LineSplitter(name) for fd, name in self.outputs.items()}
        poller = select.poll()
        for fd in (*self.outputs, wake_r):
            poller.register(fd, select.POLLIN)
        if self.listener is not None:
            poller.register(self.listener.fileno(), select.POLLIN)
        status: int | None = None
        exited_at = 0.0
        finished_ns = 0
        while self.outputs:
            if status is None:
                status = _reap(init_pid)
                if status is not None:
                    exited_at = time.monotonic()
                    finished_ns = time.time_ns()
            if status is not None and time.monotonic() - exited_at > DRAIN_AFTER_EXIT:
                break
            for fd, _ev in poller.poll(250):
                if fd == wake_r:
                    with contextlib.suppress(BlockingIOError):
                        os.read(wake_r, 512)
                elif fd in self.outputs:
                    self._on_output(fd, poller)
                elif self.listener is not None and fd == self.listener.fileno():
                    self._accept(poller)
                elif fd in self.clients:
                    self._on_client(fd, poller)
            if self.reopen:
                self.reopen = False
                os.close(self.log_fd)
                self.log_fd = logs.open_log(self.args.log)
        for splitter in self.splitters.values():
            _write(self.log_fd, b"".join(splitter.flush()))
        while status is None:
            status = _reap(init_pid, block=True)
            finished_ns = time.time_ns()
        os.close(self.log_fd)
        _record_exit(self.args, status, finished_ns)
        for sock, _, _ in self.clients.values():
            sock.close()
        if self.listener is not None:
            self.listener.close()
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.args.attach_socket)

    def _on_output(self, fd: int, poller: select.poll) -> None:
        try:
            data = os.read(fd, 65536)
        except OSError:  # EIO: the pty's other side is gone
            data = b""
        if data:
            entries = self.splitters[fd].feed(data)
            kind = attach.STDOUT if self.outputs[fd] == logs.STDOUT else attach.STDERR
            self._broadcast(attach.frame(kind, data))
        else:
            entries = self.splitters.pop(fd).flush()
            poller.unregister(fd)
            del self.outputs[fd]
            if fd != self.master:
                os.close(fd)
        if entries:
            _write(self.log_fd, b"".join(entries))

    def _broadcast(self, data: bytes) -> None:
        for fd, (sock, _, _) in list(self.clients.items()):
            try:
                sock.sendall(data)
            except OSError:
                self._drop(fd, None)

    def _accept(self, poller: select.poll) -> None:
        assert self.listener is not None
        try:
            sock, _ = self.listener.accept()
        except OSError:
            return
        sock.settimeout(CLIENT_SEND_TIMEOUT)
        self.clients[sock.fileno()] = (sock, attach.Decoder(), False)
        poller.register(sock.fileno(), select.POLLIN)

    def _on_client(self, fd: int, poller: select.poll) -> None:
        sock, decoder, sent_stdin = self.clients[fd]
        try:
            data = sock.recv(65536)
            frames = decoder.feed(data) if data else []
        except (OSError, ValueError):
            data, frames = b"", []
        for kind, payload in frames:
            if kind == attach.STDIN and self.stdin_w is not None:
                sent_stdin = True  # an empty frame: attached with stdin, nothing sent yet
                if payload:
                    with contextlib.suppress(OSError):
                        _write(self.stdin_w, payload)
            elif kind == attach.CLOSE_STDIN:
                # containerd's ContainerIO.Attach: the end of a client's input closes the
                # container's stdin only under stdinOnce without a tty; otherwise it ends
                # that client's attach and the container's stdin stays open.
                if self._closes_stdin():
                    self._close_stdin()
                else:
                    data = b""
            elif kind == attach.RESIZE and self.master is not None:
                cols, rows = (int(x) for x in payload.split())
                winsize = struct.pack("HHHH", rows, cols, 0, 0)
                with contextlib.suppress(OSError):
                    fcntl.ioctl(self.master, termios.TIOCSWINSZ, winsize)
        self.clients[fd] = (sock, decoder, sent_stdin)
        if not data:
            self._drop(fd, poller)

    def _drop(self, fd: int, poller: select.poll | None) -> None:
        sock, _, sent_stdin = self.clients.pop(fd)
        if poller is not None:
            poller.unregister(fd)
        sock.close()
        if sent_stdin and self._closes_stdin():
            self._close_stdin()

    def _closes_stdin(self) -> bool:
        return self.args.stdin_once and not self.args.tty

    def _close_stdin(self) -> None:
        if self.stdin_w is None:
            return
        if self.stdin_w == self.master:
            with contextlib.suppress(OSError):
                _write(self.master, b"\x04")  # end of input for the tty's line discipline
            return
        os.close(self.stdin_w)
        self.stdin_w = None


def _listen(path: str) -> socket.socket:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(path)
    os.chmod(path, 0o600)
    sock.listen(16)
    return sock


def _receive_master(console: socket.socket) -> int:
    """runc sends the pty master over ``--console-socket`` during ``runc create``."""
    console.settimeout(10)
    conn, _ = console.accept()
    with conn:
        _msg, fds, _flags, _addr = socket.recv_fds(conn, 4096, 1)
    if not fds:
        raise OSError("runc sent no console fd")
    return fds[0]


def _runc_error(runc_log: str) -> str:
    import json  # only on failure

    last = ""
    with contextlib.suppress(OSError), open(runc_log) as f:
        for line in f:
            with contextlib.suppress(ValueError):
                entry = json.loads(line)
                if entry.get("level") in ("error", "fatal"):
                    last = str(entry.get("msg", ""))
    return last or "unknown error (see runc.log)"


def _reap(init_pid: int, block: bool = False) -> int | None:
    """Reap every exited child; return the init process's wait status once it is gone."""
    while True:
        try:
            pid, st = os.waitpid(-1, 0 if block else os.WNOHANG)
        except ChildProcessError:
            return 255 << 8  # nothing left to wait for: init was reaped elsewhere
        if pid == 0:
            return None
        if pid == init_pid:
            return st


def _write(fd: int, data: bytes) -> None:
    while data:
        n = os.write(fd, data)
        data = data[n:]


def _record_exit(args: Args, status: int, finished_ns: int) -> None:
    if os.WIFSIGNALED(status):
        code = 128 + os.WTERMSIG(status)
    else:
        code = os.waitstatus_to_exitcode(status)
    oom = "true" if cgroups.oom_kill_count(args.cgroup) > 0 else "false"
    # Formatted by hand: importing json (and with it re) costs every container start.
    record = f'{{"exit_code": {code}, "finished_at": {finished_ns}, "oom_killed": {oom}}}'
    path = os.path.join(args.state, "exit.json")
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(record)
        f.flush()
        os.fsync(f.fileno())
    os.rename(tmp, path)


if __name__ == "__main__":
    sys.exit(main())
