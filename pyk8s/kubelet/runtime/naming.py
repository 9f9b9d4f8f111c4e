"""Per-cluster names for everything the node agent puts on the host.

Two clusters on one machine (as the tests run them) must never touch each other's containers,
mounts, network namespaces or cgroups, so every such name carries a prefix derived from the
cluster's data directory, and :func:`pyk8s.kubelet.runtime.killall.killall` removes exactly
what carries it. k3s does the same with fixed names (``/run/k3s``, ``cni0``,
``k3s-killall.sh``); we add the data-dir hash so that tests can run side by side.

Layout (``P`` = prefix, e.g. ``pyk8s-1a2b3c4d``):

- runc state: ``/run/pyk8s/P/runc`` (``runc --root``);
- mounts (container root filesystems, pod namespaces, pod shm): under ``/run/pyk8s/P/``;
- network namespaces: ``ip netns`` named by the sandbox id (``/run/netns/P-...``);
- cgroups: ``/P/<sandbox id>/<container id>`` in every hierarchy;
- durable state (configs, exit codes, writable layers, logs): ``<data-dir>/runtime/``.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

PREFIX_BASE = "pyk8s-"
RUN_ROOT = Path(os.environ.get("PYK8S_RUN_ROOT", "/run/pyk8s"))
NETNS_DIR = Path("/run/netns")


def _absolute(data_dir: Path | str) -> str:
    path = os.fspath(data_dir)
    # normpath is pure; abspath reads the cwd, which only a relative path needs.
    return os.path.normpath(path) if os.path.isabs(path) else os.path.abspath(path)


def prefix_for(data_dir: Path | str) -> str:
    """``pyk8s-`` and 8 hex digits of the data directory's absolute path."""
    return PREFIX_BASE + hashlib.sha256(_absolute(data_dir).encode()).hexdigest()[:8]


@dataclass(frozen=True)
class Naming:
    prefix: str
    data_dir: Path

    @classmethod
    def for_data_dir(cls, data_dir: Path | str) -> Naming:
        return cls(prefix=prefix_for(data_dir), data_dir=Path(_absolute(data_dir)))

    @property
    def run_dir(self) -> Path:
        return run_dir(self.prefix)

    @property
    def runc_root(self) -> Path:
        return self.run_dir / "runc"

    @property
    def state_dir(self) -> Path:
        return self.data_dir / "runtime"

    @property
    def cgroup_parent(self) -> str:
        return "/" + self.prefix

    def new_id(self) -> str:
        """A sandbox or container id: the prefix and 16 random hex digits. The id is also the
        runc container id, the network namespace name and the cgroup directory name."""
        return f"{self.prefix}-{secrets.token_hex(8)}"


def run_dir(prefix: str) -> Path:
    return RUN_ROOT / prefix
