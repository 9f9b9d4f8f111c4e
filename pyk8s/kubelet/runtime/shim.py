"""The per-container shim: owns a container's stdio and records its exit.

``python -m pyk8s.kubelet.runtime.shim --id ID ...`` is started by :mod:`.runc` for every
container. It detaches (double fork, new session), becomes a child subreaper, and runs
``runc create`` with pipes as the container's stdout and stderr. When ``runc create`` returns,
the container's init process (blocked until ``runc start``) is re-parented to the shim, which
reports ``ok <pid>`` to whoever started it and then:

- copies both pipes into the container's log file in the CRI format (:mod:`.logs`), reopening
  the file on SIGUSR1 (after the kubelet rotated it);
- reaps the container's init process, reads the OOM-kill counter of its cgroup, and writes
  ``exit.json`` (exit code, finish time, ``oom_killed``) atomically next to the bundle.

Why a shim: it is what containerd (``containerd-shim-runc-v2``) and CRI-O (``conmon``) do, and
it is the only way to get all of: the exit code of a detached container (only its parent, or a
subreaper above it, can ``wait`` for it), log capture with timestamps, and containers that keep
running, keep logging and get their exit recorded while the kubelet is down or restarting. The
shim imports only the standard library and two small modules of this package; it costs one
small process per running container (about 3 MB private memory).

A shim never talks to the kubelet after ``ok``: everything else goes through files in the
container's state directory, which a restarted kubelet reads back (adoption).
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import json
import os
import select
import signal
import subprocess
import sys
import time

from pyk8s.kubelet.runtime import cgroups, logs

PR_SET_CHILD_SUBREAPER = 36
DRAIN_AFTER_EXIT = 2.0  # seconds to wait for EOF once the container's init has exited


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="pyk8s-shim")
    p.add_argument("--id", required=True)
    p.add_argument("--runc", default="runc")
    p.add_argument("--root", required=True, help="runc --root")
    p.add_argument("--bundle", required=True)
    p.add_argument("--log", required=True, help="CRI log file")
    p.add_argument("--state", required=True, help="directory for exit.json and shim.pid")
    p.add_argument("--cgroup", required=True)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
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
        _run_shim(args, report_w)
    except BaseException as e:  # the report pipe is the only way to tell anyone
        with contextlib.suppress(OSError):
            os.write(report_w, f"error shim: {e!r}".encode())
        os._exit(1)
    os._exit(0)


def _run_shim(args: argparse.Namespace, report_w: int) -> None:
    os.setsid()
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")
    with open(os.path.join(args.state, "shim.pid"), "w") as f:
        f.write(str(os.getpid()))

    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    devnull = os.open(os.devnull, os.O_RDWR)
    pid_file = os.path.join(args.state, "init.pid")
    runc_log = os.path.join(args.state, "runc.log")
    cmd = [args.runc, "--root", args.root, "--log", runc_log, "--log-format", "json"]
    cmd += ["create", "--bundle", args.bundle, "--pid-file", pid_file, args.id]
    proc = subprocess.Popen(cmd, stdin=devnull, stdout=out_w, stderr=err_w, close_fds=True)
    os.close(out_w)
    os.close(err_w)
    code = proc.wait()
    if code != 0:
        os.write(report_w, f"error runc create: {_runc_error(runc_log)}".encode())
        os.close(report_w)
        return
    with open(pid_file) as f:
        init_pid = int(f.read().strip())

    # Detach from the starter's stdio for good; keep our own errors in the state dir.
    os.dup2(devnull, 0)
    os.dup2(devnull, 1)
    shim_log = os.open(os.path.join(args.state, "shim.log"), os.O_WRONLY | os.O_CREAT, 0o640)
    os.dup2(shim_log, 2)
    os.write(report_w, f"ok {init_pid}".encode())
    os.close(report_w)
    _copy_and_wait(args, init_pid, out_r, err_r)


def _runc_error(runc_log: str) -> str:
    last = ""
    with contextlib.suppress(OSError), open(runc_log) as f:
        for line in f:
            with contextlib.suppress(ValueError):
                entry = json.loads(line)
                if entry.get("level") in ("error", "fatal"):
                    last = str(entry.get("msg", ""))
    return last or "unknown error (see runc.log)"


def _copy_and_wait(args: argparse.Namespace, init_pid: int, out_r: int, err_r: int) -> None:
    wake_r, wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
    signal.set_wakeup_fd(wake_w)
    reopen = False

    def on_usr1(_sig: int, _frame: object) -> None:
        nonlocal reopen
        reopen = True

    signal.signal(signal.SIGUSR1, on_usr1)
    signal.signal(signal.SIGCHLD, lambda _s, _f: None)
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)

    log_fd = logs.open_log(args.log)
    splitters = {out_r: logs.LineSplitter(logs.STDOUT), err_r: logs.LineSplitter(logs.STDERR)}
    poller = select.poll()
    for fd in (*splitters, wake_r):
        poller.register(fd, select.POLLIN)
    status: int | None = None
    exited_at = 0.0
    while splitters:
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
                continue
            data = os.read(fd, 65536)
            if data:
                entries = splitters[fd].feed(data)
            else:
                entries = splitters.pop(fd).flush()
                poller.unregister(fd)
                os.close(fd)
            if entries:
                _write(log_fd, b"".join(entries))
        if reopen:
            reopen = False
            os.close(log_fd)
            log_fd = logs.open_log(args.log)
    for splitter in splitters.values():
        _write(log_fd, b"".join(splitter.flush()))
    while status is None:
        status = _reap(init_pid, block=True)
        finished_ns = time.time_ns()
    os.close(log_fd)
    _record_exit(args, status, finished_ns)


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


def _record_exit(args: argparse.Namespace, status: int, finished_ns: int) -> None:
    if os.WIFSIGNALED(status):
        code = 128 + os.WTERMSIG(status)
    else:
        code = os.waitstatus_to_exitcode(status)
    record = {
        "exit_code": code,
        "finished_at": finished_ns,
        "oom_killed": cgroups.oom_kill_count(args.cgroup) > 0,
    }
    path = os.path.join(args.state, "exit.json")
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(record, f)
        f.flush()
        os.fsync(f.fileno())
    os.rename(tmp, path)


if __name__ == "__main__":
    sys.exit(main())
