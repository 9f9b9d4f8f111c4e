"""The container runtime on runc: OCI bundles, overlayfs root filesystems, one shim each.

Plays the part of containerd's CRI plugin plus ``containerd-shim-runc-v2``
(``internal/cri/server/container_create.go``, ``container_start.go``, ``container_stop.go``,
``container_status.go``, ``sandbox_run.go``; ``cmd/containerd-shim-runc-v2``).

How a container runs, and why it survives the kubelet:

- ``create_container`` mounts an overlayfs (image layers below, a private ``upper``/``work``
  above) at ``/run/pyk8s/<prefix>/containers/<id>/rootfs``, writes the OCI ``config.json``
  (:mod:`.oci_spec`) into the bundle, and starts the container's shim (:mod:`.shim`), which
  detaches and runs ``runc create`` with pipes as the container's stdout/stderr;
- ``start_container`` is ``runc start``;
- the shim, a subreaper, copies output into the CRI log file and writes ``exit.json`` (exit
  code, finish time, OOM kill) when the container's init exits, whether or not the kubelet is
  running. The alternative, ``runc run --detach`` with fifos and a separate log copier, loses
  the exit code (only the parent or a subreaper can wait for the container's init) and needs a
  second process per container anyway;
- status comes from the records on disk (:mod:`.state`), ``exit.json`` and ``runc list``; a new
  :class:`RuncRuntime` over the same data dir therefore adopts every container that still runs.

Everything on the host carries the cluster's prefix (:mod:`.naming`); :mod:`.killall` removes it.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import fcntl
import json
import os
import shutil
import signal
import struct
import sys
import termios
import time
from pathlib import Path
from typing import Any

import pyk8s
from pyk8s.kubelet.runtime import cgroups, command, oci_spec, portforward, sessions, state
from pyk8s.kubelet.runtime.interface import (
    ContainerConfig,
    ContainerRuntimeError,
    ContainerState,
    ContainerStats,
    ContainerStatus,
    ExecResult,
    ExecSession,
    NotFoundError,
    PodNetwork,
    PodSandboxConfig,
    PodSandboxStatus,
    SandboxState,
)
from pyk8s.kubelet.runtime.naming import Naming
from pyk8s.kubelet.runtime.sandbox import Sandbox

POLL_MIN = 0.01
POLL_MAX = 0.1
KILL_WAIT = 10.0  # seconds to wait for an exit after SIGKILL


class RuncRuntime:
    """:class:`~.interface.ContainerRuntime` on runc, for the cluster whose data dir is given."""

    def __init__(
        self,
        data_dir: Path | str,
        *,
        runc: str = "runc",
        network: PodNetwork | None = None,
        python: str = sys.executable,
    ) -> None:
        self.naming = Naming.for_data_dir(data_dir)
        self.runc = runc
        self.network = network
        self.python = python
        self._sandboxes = self.naming.state_dir / "sandboxes"
        self._containers = self.naming.state_dir / "containers"
        self._host: _HostFacts | None = None
        # Concurrent status calls share one ``runc list``, unless a container changed state
        # through us since it started (then it could miss that change): see _runc_list.
        self._generation = 0
        self._listing: tuple[int, asyncio.Future[dict[str, dict[str, Any]]]] | None = None

    # ----- paths

    def _sandbox(self, sandbox_id: str) -> Sandbox:
        return Sandbox(
            sandbox_id,
            run_dir=self.naming.run_dir / "sandboxes" / sandbox_id,
            state_dir=self._sandboxes / sandbox_id,
        )

    def _cdir(self, container_id: str) -> Path:
        return self._containers / container_id

    def _rootfs(self, container_id: str) -> Path:
        return self.naming.run_dir / "containers" / container_id / "rootfs"

    def _attach_socket(self, container_id: str) -> Path:
        return self._rootfs(container_id).parent / "attach.sock"

    def _runc(self, *args: str) -> list[str]:
        return [self.runc, "--root", str(self.naming.runc_root), *args]

    # ----- records

    async def _sandbox_record(self, sandbox_id: str) -> state.SandboxRecord:
        path = self._sandboxes / sandbox_id / "sandbox.json"
        try:
            return await asyncio.to_thread(state.load, path, state.SandboxRecord)
        except FileNotFoundError:
            raise NotFoundError(f"pod sandbox {sandbox_id!r} not found") from None

    async def _container_record(self, container_id: str) -> state.ContainerRecord:
        path = self._cdir(container_id) / "container.json"
        try:
            return await asyncio.to_thread(state.load, path, state.ContainerRecord)
        except FileNotFoundError:
            raise NotFoundError(f"container {container_id!r} not found") from None

    async def _all_records(self) -> list[state.ContainerRecord]:
        def load_all() -> list[state.ContainerRecord]:
            out = []
            for d in sorted(self._containers.glob("*/container.json")):
                with contextlib.suppress(FileNotFoundError, ValueError, KeyError):
                    out.append(state.load(d, state.ContainerRecord))
            return out

        return await asyncio.to_thread(load_all)

    # ----- version

    async def version(self) -> str:
        out = await command.run(self.runc, "--version")
        first = out.splitlines()[0] if out else "runc version unknown"
        ver = first.split()[-1].split("+")[0]
        return f"runc://{ver}"

    # ----- sandboxes

    async def run_pod_sandbox(self, config: PodSandboxConfig) -> str:
        sandbox_id = self.naming.new_id()
        sb = self._sandbox(sandbox_id)
        await sb.create(config)
        ips: tuple[str, ...] = ()
        try:
            if self.network is not None and not config.host_network:
                ips = tuple(await self.network.setup(sandbox_id, str(sb.netns_path), config))
                await sb.update_ips(config, ips)
            record = state.SandboxRecord(sandbox_id, config, time.time_ns(), True, ips)
            await asyncio.to_thread(state.save, sb.state_dir / "sandbox.json", record)
        except BaseException:
            if self.network is not None and not config.host_network:
                with contextlib.suppress(Exception):
                    await self.network.teardown(sandbox_id, str(sb.netns_path), config)
            await sb.destroy()
            await sb.remove_state()
            raise
        return sandbox_id

    async def stop_pod_sandbox(self, sandbox_id: str) -> None:
        try:
            record = await self._sandbox_record(sandbox_id)
        except NotFoundError:
            return
        for c in await self.list_containers(sandbox_id):
            if c.state != ContainerState.EXITED:
                await self.stop_container(c.id, 0)
        if record.ready:
            sb = self._sandbox(sandbox_id)
            if self.network is not None and not record.config.host_network:
                await self.network.teardown(sandbox_id, str(sb.netns_path), record.config)
            new = state.SandboxRecord(record.id, record.config, record.created_at, False, ())
            await asyncio.to_thread(state.save, sb.state_dir / "sandbox.json", new)

    async def remove_pod_sandbox(self, sandbox_id: str) -> None:
        sb = self._sandbox(sandbox_id)
        await self.stop_pod_sandbox(sandbox_id)
        for c in await self._all_records():
            if c.sandbox_id == sandbox_id:
                await self.remove_container(c.id)
        await sb.destroy()
        await asyncio.to_thread(cgroups.remove, f"{self.naming.cgroup_parent}/{sandbox_id}")
        await sb.remove_state()

    async def pod_sandbox_status(self, sandbox_id: str) -> PodSandboxStatus:
        return self._sandbox_status(await self._sandbox_record(sandbox_id))

    def _sandbox_status(self, r: state.SandboxRecord) -> PodSandboxStatus:
        return PodSandboxStatus(
            id=r.id,
            metadata=r.config.metadata,
            state=SandboxState.READY if r.ready else SandboxState.NOTREADY,
            created_at=r.created_at,
            ips=r.ips,
            netns_path="" if r.config.host_network else str(self._sandbox(r.id).netns_path),
            labels=r.config.labels,
            annotations=r.config.annotations,
        )

    async def list_pod_sandboxes(self) -> list[PodSandboxStatus]:
        def load_all() -> list[state.SandboxRecord]:
            out = []
            for p in sorted(self._sandboxes.glob("*/sandbox.json")):
                with contextlib.suppress(FileNotFoundError, ValueError, KeyError):
                    out.append(state.load(p, state.SandboxRecord))
            return out

        return [self._sandbox_status(r) for r in await asyncio.to_thread(load_all)]

    # ----- containers

    async def create_container(
        self, sandbox_id: str, config: ContainerConfig, sandbox_config: PodSandboxConfig
    ) -> str:
        if not config.layers:
            raise ContainerRuntimeError(f"container {config.metadata.name!r}: no image layers")
        sb_record = await self._sandbox_record(sandbox_id)
        if not sb_record.ready:
            raise ContainerRuntimeError(f"pod sandbox {sandbox_id!r} is not ready")
        container_id = self.naming.new_id()
        cdir = self._cdir(container_id)
        rootfs = self._rootfs(container_id)
        cgroup = f"{self.naming.cgroup_parent}/{sandbox_id}/{container_id}"
        log_dir = sandbox_config.log_directory or str(self.naming.state_dir / "logs" / sandbox_id)
        log_rel = config.log_path or f"{config.metadata.name}/{config.metadata.attempt}.log"
        log_path = os.path.join(log_dir, log_rel)
        paths = self._sandbox(sandbox_id).paths(sandbox_config)
        if config.target_id:
            target = await self.container_status(config.target_id)
            if target.state != ContainerState.RUNNING or not target.pid:
                raise ContainerRuntimeError(
                    f"target container {config.target_id} is not running, cannot share its "
                    "process namespace"
                )
            paths = dataclasses.replace(paths, pid=f"/proc/{target.pid}/ns/pid")
        if self._host is None:
            self._host = await asyncio.to_thread(_HostFacts.read)
        try:
            spec = oci_spec.build(
                config,
                sandbox_config,
                paths,
                rootfs=str(rootfs),
                cgroups_path=cgroup,
                host_capabilities=self._host.capabilities,
                limit_swap=self._host.limit_swap,
            )
        except ValueError as e:
            raise ContainerRuntimeError(str(e)) from e
        record = state.ContainerRecord(
            container_id, sandbox_id, config, time.time_ns(), log_path, cgroup
        )
        await asyncio.to_thread(self._prepare_dirs, cdir, rootfs, spec, record)
        try:
            await _mount_overlay(config.layers, cdir / "upper", cdir / "work", rootfs)
            await self._start_shim(container_id, cdir, record)
            self._changed()
        except BaseException:
            await self._cleanup_container(container_id)
            raise
        return container_id

    def _prepare_dirs(
        self, cdir: Path, rootfs: Path, spec: dict[str, Any], record: state.ContainerRecord
    ) -> None:
        for d in (cdir / "bundle", cdir / "upper", cdir / "work", rootfs):
            d.mkdir(parents=True, exist_ok=True)
        (cdir / "bundle" / "config.json").write_text(json.dumps(spec, indent=1))
        Path(record.log_path).parent.mkdir(parents=True, exist_ok=True)
        state.save(cdir / "container.json", record)

    async def _start_shim(self, container_id: str, cdir: Path, r: state.ContainerRecord) -> None:
        argv = (
            self.python,
            "-S",  # no site: the shim needs only the stdlib and this package (faster start)
            "-m",
            "pyk8s.kubelet.runtime.shim",
            "--id",
            container_id,
            "--runc",
            self.runc,
            "--root",
            str(self.naming.runc_root),
            "--bundle",
            str(cdir / "bundle"),
            "--log",
            r.log_path,
            "--state",
            str(cdir),
            "--cgroup",
            r.cgroup,
            "--attach-socket",
            str(self._attach_socket(container_id)),
            *(["--stdin"] if r.config.stdin else []),
            *(["--stdin-once"] if r.config.stdin_once else []),
            *(["--tty"] if r.config.tty else []),
        )
        # Spawned from a thread, as every host command is (see command.py for why).
        code, out, err = await command.run_in_thread(argv, None, None, _shim_env())
        msg = out.decode(errors="replace").strip()
        if code != 0 or not msg.startswith("ok "):
            detail = msg or err.decode(errors="replace").strip()
            raise ContainerRuntimeError(f"create container {r.config.metadata.name!r}: {detail}")

    async def start_container(self, container_id: str) -> None:
        record = await self._container_record(container_id)
        # Recorded before ``runc start``: a short-lived process may be gone when it returns.
        path = self._cdir(container_id) / "container.json"
        started = dataclasses.replace(record, started_at=time.time_ns())
        await asyncio.to_thread(state.save, path, started)
        try:
            await command.run(*self._runc("start", container_id))
        except BaseException:
            await asyncio.to_thread(state.save, path, record)
            raise
        finally:
            self._changed()

    async def stop_container(self, container_id: str, timeout: float) -> None:
        status = await self.container_status(container_id)
        if status.state == ContainerState.EXITED:
            return
        if timeout > 0 and status.state == ContainerState.RUNNING:
            await command.run(*self._runc("kill", container_id, "TERM"), check=False)
            if await self._wait_exit(container_id, timeout):
                self._changed()
                return
        await command.run(*self._runc("kill", "--all", container_id, "KILL"), check=False)
        ok = await self._wait_exit(container_id, KILL_WAIT)
        self._changed()
        if not ok:
            raise ContainerRuntimeError(f"container {container_id} did not exit after SIGKILL")

    async def _wait_exit(self, container_id: str, timeout: float) -> bool:
        """Wait until the shim has recorded the exit (or is gone); False on timeout."""
        deadline = time.monotonic() + timeout
        delay = POLL_MIN
        cdir = self._cdir(container_id)
        while True:
            done = await asyncio.to_thread(self._exited_on_disk, cdir)
            if done:
                return True
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(min(delay, max(0.0, deadline - time.monotonic())))
            delay = min(delay * 2, POLL_MAX)

    def _exited_on_disk(self, cdir: Path) -> bool:
        return (cdir / "exit.json").exists() or not _shim_alive(cdir)

    async def remove_container(self, container_id: str) -> None:
        try:
            status = await self.container_status(container_id)
        except NotFoundError:
            await self._cleanup_container(container_id)
            return
        if status.state != ContainerState.EXITED:
            await self.stop_container(container_id, 0)
        await self._cleanup_container(container_id)

    async def _cleanup_container(self, container_id: str) -> None:
        await command.run(*self._runc("delete", "--force", container_id), check=False)
        self._changed()
        rootfs = self._rootfs(container_id)
        await command.run("umount", str(rootfs), check=False)
        record_path = self._cdir(container_id) / "container.json"
        with contextlib.suppress(FileNotFoundError, ValueError, KeyError):
            record = await asyncio.to_thread(state.load, record_path, state.ContainerRecord)
            await asyncio.to_thread(cgroups.remove, record.cgroup)
        await asyncio.to_thread(_remove_sockets, rootfs.parent)
        await asyncio.to_thread(_rmdirs, rootfs, rootfs.parent)  # rmdir: never into a mount
        await asyncio.to_thread(shutil.rmtree, self._cdir(container_id), True)

    def _changed(self) -> None:
        self._generation += 1

    async def _runc_list(self) -> dict[str, dict[str, Any]]:
        listing = self._listing
        if listing is not None and listing[0] == self._generation and not listing[1].done():
            return await asyncio.shield(listing[1])
        future = asyncio.ensure_future(self._runc_list_now())
        self._listing = (self._generation, future)
        return await asyncio.shield(future)

    async def _runc_list_now(self) -> dict[str, dict[str, Any]]:
        out = await command.run(*self._runc("list", "--format", "json"), check=False)
        try:
            entries = json.loads(out) or []
        except ValueError:
            entries = []
        return {e["id"]: e for e in entries}

    def _init_alive(self, container_id: str) -> bool:
        """Blocking: whether the container's init process runs, read as ``runc state`` does
        it (its ``state.json``: the pid, still alive with the recorded start time, and no
        ``exec.fifo``, which is there until ``runc start``) without a ``runc`` process, so an
        exec costs one ``runc exec`` and not a ``runc list`` first."""
        cdir = self.naming.runc_root / container_id
        try:
            st = json.loads((cdir / "state.json").read_bytes())
            pid, start = int(st["init_process_pid"]), int(st["init_process_start"])
            stat = Path(f"/proc/{pid}/stat").read_text()
        except (OSError, ValueError, KeyError, TypeError):
            return False
        # the fields after the command's closing parenthesis; starttime is field 22
        fields = stat[stat.rfind(")") + 2 :].split()
        if len(fields) < 20 or fields[0] == "Z" or int(fields[19]) != start:
            return False
        return not (cdir / "exec.fifo").exists()

    async def container_status(self, container_id: str) -> ContainerStatus:
        record = await self._container_record(container_id)
        runc_states = await self._runc_list()
        return await asyncio.to_thread(self._status, record, runc_states.get(container_id))

    async def list_containers(self, sandbox_id: str | None = None) -> list[ContainerStatus]:
        records = [
            r for r in await self._all_records() if sandbox_id is None or r.sandbox_id == sandbox_id
        ]
        if not records:
            return []
        runc_states = await self._runc_list()

        def statuses() -> list[ContainerStatus]:
            return [self._status(r, runc_states.get(r.id)) for r in records]

        return await asyncio.to_thread(statuses)

    def _status(
        self, r: state.ContainerRecord, runc_state: dict[str, Any] | None
    ) -> ContainerStatus:
        cdir = self._cdir(r.id)
        base: dict[str, Any] = {
            "id": r.id,
            "sandbox_id": r.sandbox_id,
            "metadata": r.config.metadata,
            "created_at": r.created_at,
            "started_at": r.started_at,
            "image": r.config.image,
            "image_ref": r.config.image_ref,
            "log_path": r.log_path,
            "labels": r.config.labels,
            "annotations": r.config.annotations,
        }
        try:
            exit_info = json.loads((cdir / "exit.json").read_text())
        except (FileNotFoundError, ValueError):
            exit_info = None
        if exit_info is not None:
            code = int(exit_info["exit_code"])
            if exit_info.get("oom_killed"):
                reason = "OOMKilled"
            else:
                reason = "Completed" if code == 0 else "Error"
            return ContainerStatus(
                **base,
                state=ContainerState.EXITED,
                finished_at=int(exit_info["finished_at"]),
                exit_code=code,
                reason=reason,
            )
        runc_status = runc_state.get("status") if runc_state else None
        pid = int(runc_state.get("pid", 0)) if runc_state else 0
        if runc_status == "created":
            return ContainerStatus(**base, state=ContainerState.CREATED, pid=pid)
        if runc_status in ("running", "paused") or _shim_alive(cdir):
            return ContainerStatus(**base, state=ContainerState.RUNNING, pid=pid)
        # Neither runc nor a shim knows it: the host rebooted or someone killed the shim.
        return ContainerStatus(
            **base,
            state=ContainerState.EXITED,
            finished_at=r.started_at or r.created_at,
            exit_code=255,
            reason="Unknown",
            message="the container's exit was not recorded (shim gone)",
        )

    # ----- exec

    async def exec_sync(
        self, container_id: str, cmd: list[str], timeout: float | None = None
    ) -> ExecResult:
        session = await self.exec(container_id, cmd)
        assert session.stderr is not None
        reads = asyncio.gather(session.stdout.read(), session.stderr.read(), session.wait())
        try:
            out, err, code = await asyncio.wait_for(reads, timeout)
        except TimeoutError:
            await session.kill()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(session.wait(), KILL_WAIT)
            raise
        return ExecResult(code, out, err)

    async def exec(
        self, container_id: str, cmd: list[str], *, stdin: bool = False, tty: bool = False
    ) -> ExecSession:
        if not cmd:
            raise ContainerRuntimeError("exec: empty command")
        if not await asyncio.to_thread(self._init_alive, container_id):
            # not (or no longer) running: ask runc, for the state to name
            status = await self.container_status(container_id)
            if status.state != ContainerState.RUNNING:
                raise ContainerRuntimeError(
                    f"container {container_id} is not running ({status.state.value})"
                )
        tag = os.urandom(32).hex()  # containerd's exec ids: 32 random bytes in hex
        pid_file = self._cdir(container_id) / f"exec-{tag}.pid"
        # runc's own failure (no such command...) goes to a log of its own, not the output.
        log = ("--log", str(self._cdir(container_id) / f"exec-{tag}.log"), "--log-format", "json")
        if not tty:
            proc = await asyncio.create_subprocess_exec(
                *self._runc(*log, "exec", "--pid-file", str(pid_file), container_id, *cmd),
                stdin=asyncio.subprocess.PIPE if stdin else asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
            return sessions.PipeExec(proc, pid_file, tag)
        # runc only takes a console socket when it detaches, and a detached exec's exit code
        # is lost; so runc gets a pty of ours as its terminal and proxies it to the container's.
        master, slave = await asyncio.to_thread(os.openpty)
        # A sane size until the client sends its own (a 0x0 terminal confuses programs).
        fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
        try:
            proc = await asyncio.create_subprocess_exec(
                *self._runc(*log, "exec", "--tty", "--pid-file", str(pid_file), container_id, *cmd),
                stdin=slave,
                stdout=slave,
                # runc proxies the console on its stdin and stdout; its own complaint (no
                # such command...) is read from its log, not shown on the terminal
                stderr=asyncio.subprocess.DEVNULL,
            )
        except BaseException:
            os.close(master)
            raise
        finally:
            os.close(slave)
        return sessions.PtyExec(proc, pid_file, master, tag)

    async def attach(self, container_id: str, *, stdin: bool = False) -> ExecSession:
        record = await self._container_record(container_id)
        status = await self.container_status(container_id)
        if status.state != ContainerState.RUNNING:
            raise ContainerRuntimeError(
                f"container {container_id} is not running ({status.state.value})"
            )
        # A container created without stdin takes none: the client's input is ignored and
        # the output streamed (containerd's ContainerIO.Attach).
        stdin = stdin and record.config.stdin
        reader, writer = await asyncio.open_unix_connection(str(self._attach_socket(container_id)))

        async def exit_code() -> int:
            st = await self.container_status(container_id)
            return st.exit_code if st.state == ContainerState.EXITED else -1

        return sessions.AttachSession(
            reader, writer, stdin=stdin, tty=record.config.tty, exit_code=exit_code
        )

    async def port_forward(
        self, sandbox_id: str, port: int
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        status = await self.pod_sandbox_status(sandbox_id)
        if status.state != SandboxState.READY:
            raise ContainerRuntimeError(f"pod sandbox {sandbox_id} is not ready")
        try:
            return await portforward.open_connection(status.netns_path, port)
        except portforward.DialError as e:
            # containerd's text (sandbox_portforward_linux.go), which kubectl shows.
            raise ContainerRuntimeError(
                f"failed to execute portforward in network namespace "
                f'"{status.netns_path or "host"}": failed to connect to localhost:{port} '
                f'inside namespace "{sandbox_id}", {e}'
            ) from e
        except OSError as e:
            raise ContainerRuntimeError(f"port-forward to port {port}: {e}") from e

    # ----- logs and stats

    async def reopen_container_log(self, container_id: str) -> None:
        await self._container_record(container_id)
        pid = await asyncio.to_thread(_shim_pid, self._cdir(container_id))
        if pid is None:
            raise ContainerRuntimeError(f"container {container_id} is not running")
        os.kill(pid, signal.SIGUSR1)

    async def container_stats(self, container_id: str) -> ContainerStats:
        record = await self._container_record(container_id)
        u = await asyncio.to_thread(cgroups.usage, record.cgroup)
        used, inodes = await asyncio.to_thread(disk_usage, self._cdir(container_id) / "upper")
        return ContainerStats(
            id=container_id,
            timestamp=time.time_ns(),
            cpu_usage_core_nanoseconds=u.cpu_ns,
            memory_usage_bytes=u.memory_usage,
            memory_working_set_bytes=u.memory_working_set,
            pids=u.pids,
            memory_rss_bytes=u.memory_rss,
            page_faults=u.page_faults,
            major_page_faults=u.major_page_faults,
            writable_layer_bytes=used,
            writable_layer_inodes=inodes,
        )


def _shim_env() -> dict[str, str]:
    """A small environment: where this package is (``-S`` skips site-packages), and PATH."""
    package_root = os.path.dirname(os.path.dirname(pyk8s.__file__ or ""))  # absolute already
    return {
        "PYTHONPATH": package_root,
        "PATH": os.environ.get("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin"),
    }


# The kernel reads mount options from one page; leave room for upperdir and workdir.
MAX_MOUNT_OPTIONS = 4000


async def _mount_overlay(layers: tuple[str, ...], upper: Path, work: Path, target: Path) -> None:
    """Mount ``layers`` (bottom first) read-only under a writable ``upper``. With many long
    layer paths the options outgrow a page; then, as containerd does, mount from their common
    parent directory with relative lower paths."""
    lower = ":".join(reversed(layers))
    opts = f"lowerdir={lower},upperdir={upper},workdir={work}"
    cwd = None
    if len(opts) > MAX_MOUNT_OPTIONS:
        cwd = os.path.commonpath(layers)  # layers are absolute: pure string work below
        lower = ":".join(layer[len(cwd) :].lstrip("/") or "." for layer in reversed(layers))
        opts = f"lowerdir={lower},upperdir={upper},workdir={work}"
        if len(opts) > MAX_MOUNT_OPTIONS:
            raise ContainerRuntimeError(f"{len(layers)} image layers: too many to mount")
    await command.run("mount", "-t", "overlay", "overlay", "-o", opts, str(target), cwd=cwd)


class _HostFacts:
    """What the host allows, read once: its capability bounding set, and whether a memory
    cgroup can cap swap (cgroup v2, or v1 with swap accounting)."""

    def __init__(self, capabilities: frozenset[str], limit_swap: bool) -> None:
        self.capabilities = capabilities
        self.limit_swap = limit_swap

    @classmethod
    def read(cls) -> _HostFacts:
        caps = frozenset(oci_spec.ALL_CAPABILITIES)
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("CapBnd:"):
                caps = oci_spec.bounding_set(line.split()[1])
        limit_swap = cgroups.is_v2() or os.path.exists(
            "/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes"
        )
        return cls(caps, limit_swap)


def disk_usage(top: Path) -> tuple[int, int]:
    """Bytes (allocated blocks, as ``du``) and inodes below ``top``; 0, 0 if it is gone."""
    used = inodes = 0
    for root, dirs, files in os.walk(top):
        for name in (*dirs, *files):
            with contextlib.suppress(OSError):
                st = os.lstat(os.path.join(root, name))
                used += st.st_blocks * 512
                inodes += 1
    return used, inodes


def _remove_sockets(d: Path) -> None:
    for sock in d.glob("*.sock"):
        sock.unlink(missing_ok=True)


def _rmdirs(*dirs: Path) -> None:
    for d in dirs:
        with contextlib.suppress(FileNotFoundError):
            d.rmdir()


def _shim_pid(cdir: Path) -> int | None:
    """The shim's pid if that process is alive and still our shim (not a reused pid)."""
    pid = sessions.read_pid(cdir / "shim.pid")
    if pid is None:
        return None
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    if cdir.name.encode() not in cmdline or b"pyk8s.kubelet.runtime.shim" not in cmdline:
        return None
    stat = Path(f"/proc/{pid}/stat").read_text()
    if stat.rpartition(")")[2].split()[0] == "Z":
        return None
    return pid


def _shim_alive(cdir: Path) -> bool:
    return _shim_pid(cdir) is not None
