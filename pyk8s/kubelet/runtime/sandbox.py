"""Pod sandboxes without a pause container: named namespaces and per-pod /etc files.

Upstream runtimes keep a pod's shared namespaces alive with a ``pause`` process
(containerd ``internal/cri/server/sandbox_run.go``). We pin them with bind mounts instead, as
``ip netns add`` does for network namespaces: the network namespace is an ``ip netns`` named
after the sandbox id (so ``ip netns exec`` and the pod network code find it), the UTS and IPC
namespaces are made by ``unshare --uts=FILE --ipc=FILE`` (which also sets the hostname), a
tmpfs is the pod's ``/dev/shm``, and a pod with ``shareProcessNamespace`` gets a reaping
pid 1 (:mod:`.pidns`) whose pid namespace is bind-mounted beside the others. Containers join
them through the OCI spec's namespace paths. The per-pod ``/etc/hosts`` follows the kubelet's
``managedHostsFileContent`` (``pkg/kubelet/kubelet_pods.go``), ``/etc/resolv.conf``
containerd's ``parseDNSOptions``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import sys
from pathlib import Path

import pyk8s
from pyk8s.kubelet.runtime import command
from pyk8s.kubelet.runtime.interface import ContainerRuntimeError, PodSandboxConfig
from pyk8s.kubelet.runtime.naming import NETNS_DIR
from pyk8s.kubelet.runtime.oci_spec import SandboxPaths

SHM_SIZE = "65536k"

_HOSTS_HEADER = """# Kubernetes-managed hosts file.
127.0.0.1\tlocalhost
::1\tlocalhost ip6-localhost ip6-loopback
fe00::0\tip6-localnet
fe00::0\tip6-mcastprefix
fe00::1\tip6-allnodes
fe00::2\tip6-allrouters
"""


def hosts_content(config: PodSandboxConfig, ips: tuple[str, ...]) -> str:
    if config.host_network:
        try:
            base = Path("/etc/hosts").read_text()
        except OSError:
            base = _HOSTS_HEADER
        if not base.endswith("\n"):
            base += "\n"
    else:
        base = _HOSTS_HEADER
        hostname = config.hostname or config.metadata.name
        for ip in ips:
            base += f"{ip}\t{hostname}\n"
    if config.host_aliases:
        base += "\n# Entries added by HostAliases.\n"
        for alias in config.host_aliases:
            base += f"{alias.ip}\t{chr(9).join(alias.hostnames)}\n"
    return base


def resolv_conf_content(config: PodSandboxConfig) -> str:
    if config.dns is None:
        try:
            return Path("/etc/resolv.conf").read_text()
        except OSError:
            return ""
    lines = [f"search {' '.join(config.dns.searches)}"] if config.dns.searches else []
    lines += [f"nameserver {s}" for s in config.dns.servers]
    if config.dns.options:
        lines.append(f"options {' '.join(config.dns.options)}")
    return "\n".join(lines) + "\n"


class Sandbox:
    """The host side of one pod sandbox: ``run_dir`` holds mounts, ``state_dir`` files."""

    def __init__(self, sandbox_id: str, run_dir: Path, state_dir: Path) -> None:
        self.id = sandbox_id
        self.run_dir = run_dir
        self.state_dir = state_dir

    @property
    def netns_path(self) -> Path:
        return NETNS_DIR / self.id

    def paths(self, config: PodSandboxConfig) -> SandboxPaths:
        return SandboxPaths(
            netns="" if config.host_network else str(self.netns_path),
            uts="" if config.host_network else str(self.run_dir / "uts"),
            ipc="" if config.host_ipc else str(self.run_dir / "ipc"),
            hosts=str(self.state_dir / "hosts"),
            resolv_conf=str(self.state_dir / "resolv.conf"),
            hostname=str(self.state_dir / "hostname"),
            shm="" if config.host_ipc else str(self.run_dir / "shm"),
            pid=str(self.run_dir / "pid") if _shares_pid(config) else "",
        )

    async def create(self, config: PodSandboxConfig) -> None:
        """Make the namespaces and files; on failure, undo what was done and raise."""
        try:
            await self._create(config)
        except BaseException:
            await self.destroy()
            raise

    async def _create(self, config: PodSandboxConfig) -> None:
        hostname = config.hostname or config.metadata.name
        await asyncio.to_thread(self._write_files, config, ())
        ns_flags: list[str] = []
        if not config.host_network:
            await command.run("ip", "netns", "add", self.id)
            await command.run("ip", "-n", self.id, "link", "set", "lo", "up")
            ns_flags.append(f"--uts={self.run_dir / 'uts'}")
        if not config.host_ipc:
            ns_flags.append(f"--ipc={self.run_dir / 'ipc'}")
            shm = self.run_dir / "shm"
            await asyncio.to_thread(shm.mkdir, mode=0o1777, exist_ok=True)
            opts = f"nosuid,nodev,noexec,mode=1777,size={SHM_SIZE}"
            await command.run("mount", "-t", "tmpfs", "-o", opts, "shm", str(shm))
        if ns_flags:
            await asyncio.to_thread(self._touch_ns_files, config)
            prog = ["hostname", hostname] if not config.host_network else ["true"]
            await command.run("unshare", *ns_flags, *prog)
        if _shares_pid(config):
            await self._start_pid_holder()

    async def _start_pid_holder(self) -> None:
        pid_file = self.run_dir / "pidns.pid"
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-S",
            "-m",
            "pyk8s.kubelet.runtime.pidns",
            "--sandbox",
            self.id,
            "--pid-file",
            str(pid_file),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,
            env={"PYTHONPATH": _package_root()},
        )
        _, err = await proc.communicate()
        if proc.returncode != 0:
            raise ContainerRuntimeError(f"pid namespace holder: {err.decode().strip()}")
        pid = (await asyncio.to_thread(pid_file.read_text)).strip()
        target = self.run_dir / "pid"
        await asyncio.to_thread(target.touch)
        await command.run("mount", "--bind", f"/proc/{pid}/ns/pid", str(target))

    async def _stop_pid_holder(self) -> None:
        def find() -> int | None:
            try:
                pid = int((self.run_dir / "pidns.pid").read_text())
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            except (OSError, ValueError):
                return None
            return pid if self.id.encode() in cmdline else None

        pid = await asyncio.to_thread(find)
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def _touch_ns_files(self, config: PodSandboxConfig) -> None:
        for name, wanted in (("uts", not config.host_network), ("ipc", not config.host_ipc)):
            if wanted:
                (self.run_dir / name).touch()

    def _write_files(self, config: PodSandboxConfig, ips: tuple[str, ...]) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        hostname = os.uname().nodename if config.host_network else config.hostname
        _write(self.state_dir / "hostname", (hostname or config.metadata.name) + "\n")
        _write(self.state_dir / "hosts", hosts_content(config, ips))
        _write(self.state_dir / "resolv.conf", resolv_conf_content(config))

    async def update_ips(self, config: PodSandboxConfig, ips: tuple[str, ...]) -> None:
        """Rewrite /etc/hosts once the pod network gave the pod its addresses."""
        await asyncio.to_thread(self._write_files, config, ips)

    async def destroy(self) -> None:
        """Remove the namespaces, the shm mount and the run dir; missing pieces are fine."""
        await self._stop_pid_holder()
        for name in ("shm", "uts", "ipc", "pid"):
            path = self.run_dir / name
            await command.run("umount", "-l", str(path), check=False)
        if await asyncio.to_thread(self.netns_path.exists):
            await command.run("ip", "netns", "delete", self.id, check=False)
        await asyncio.to_thread(shutil.rmtree, self.run_dir, True)

    async def remove_state(self) -> None:
        await asyncio.to_thread(shutil.rmtree, self.state_dir, True)


def _shares_pid(config: PodSandboxConfig) -> bool:
    return config.share_process_namespace and not config.host_pid


def _package_root() -> str:
    return os.path.dirname(os.path.dirname(pyk8s.__file__ or ""))


def _write(path: Path, content: str) -> None:
    # In place, not by rename: running containers bind-mount these files by inode.
    path.write_text(content)
    with contextlib.suppress(FileNotFoundError):
        os.chmod(path, 0o644)
