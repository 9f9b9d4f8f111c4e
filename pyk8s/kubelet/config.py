"""The kubelet's settings (``KubeletConfiguration``, ``pkg/kubelet/apis/config/types.go``)."""

from __future__ import annotations

import re
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from pyk8s.api import resource


@dataclass
class KubeletConfig:
    data_dir: Path
    """The cluster's data dir: the runtime keeps its state and the kubelet its pods below it."""
    image_store_root: Path
    node_name: str = field(default_factory=lambda: socket.gethostname().lower())
    node_ip: str = ""
    """The node's InternalIP (``--node-ip``); empty: the address of the default route."""
    port: int = 10250
    """The kubelet API (HTTPS); 0 picks a free port (tests)."""
    bind_address: str = "0.0.0.0"
    client_ca_file: Path | None = None
    """Client certificates signed by this CA may use the kubelet API; without it, nobody."""
    cluster_dns: tuple[str, ...] = ()
    cluster_domain: str = "cluster.local"
    node_labels: dict[str, str] = field(default_factory=dict)
    control_plane: bool = False
    static_pod_path: Path | None = None
    """Manifests of static pods (``staticPodPath``); None: no static pods."""
    file_check_frequency: float = 5.0
    max_pods: int = 110
    node_lease_duration_seconds: int = 40
    node_lease_renew_interval: float = 10.0
    node_status_update_frequency: float = 10.0
    node_status_report_frequency: float = 300.0
    sync_frequency: float = 60.0
    """Every pod is synced at least this often (``syncFrequency``, 1 min)."""
    housekeeping_interval: float = 2.0
    pleg_relist_period: float = 1.0
    backoff_initial: float = 10.0
    backoff_max: float = 300.0
    container_log_max_size: int = 10 * 2**20
    """A running container's log is rotated past this size (``containerLogMaxSize``, 10Mi)."""
    container_log_max_files: int = 5
    """Files kept per container log, the live one included (``containerLogMaxFiles``)."""
    container_log_monitor_interval: float = 10.0
    image_gc_high_threshold_percent: int = 85
    image_gc_low_threshold_percent: int = 80
    image_minimum_gc_age: float = 120.0
    image_gc_period: float = 300.0

    @property
    def root_dir(self) -> Path:
        """``/var/lib/kubelet``: pod directories (volumes, etc-hosts) and the serving cert."""
        return self.data_dir / "kubelet"

    @property
    def pods_dir(self) -> Path:
        return self.root_dir / "pods"

    @property
    def logs_dir(self) -> Path:
        """``/var/log/pods``: ``<ns>_<name>_<uid>/<container>/<restart>.log``."""
        return self.data_dir / "pod-logs"


def _duration(value: str) -> float:
    """A Go duration as the kubelet's flags take it (``2m0s``, ``90s``, ``1h``) or seconds."""
    m = re.fullmatch(r"(?:(\d+)h)?(?:(\d+)m)?(?:(\d+(?:\.\d+)?)s)?", value)
    if value and m and any(m.groups()):
        h, mi, s = m.groups()
        return int(h or 0) * 3600 + int(mi or 0) * 60 + float(s or 0)
    return float(value)


def _percent(value: str) -> int:
    n = int(value)
    if not 0 <= n <= 100:
        raise ValueError("must be within 0-100")
    return n


# flag name (as upstream's kubelet spells it) -> (field, parser)
KUBELET_ARGS: dict[str, tuple[str, Callable[[str], object]]] = {
    "container-log-max-size": ("container_log_max_size", resource.value),
    "container-log-max-files": ("container_log_max_files", int),
    "container-log-monitor-interval": ("container_log_monitor_interval", _duration),
    "image-gc-high-threshold": ("image_gc_high_threshold_percent", _percent),
    "image-gc-low-threshold": ("image_gc_low_threshold_percent", _percent),
    "minimum-image-ttl-duration": ("image_minimum_gc_age", _duration),
    "max-pods": ("max_pods", int),
    "sync-frequency": ("sync_frequency", _duration),
}


def apply_kubelet_args(config: KubeletConfig, args: list[str]) -> None:
    """``--kubelet-arg=name=value`` (k3s): set a kubelet flag; a bad one is a clear error."""
    for arg in args:
        name, sep, value = arg.lstrip("-").partition("=")
        if not sep or name not in KUBELET_ARGS:
            known = ", ".join(sorted(KUBELET_ARGS))
            raise ValueError(f"--kubelet-arg {arg!r}: expected name=value, name one of: {known}")
        attr, parse = KUBELET_ARGS[name]
        try:
            setattr(config, attr, parse(value))
        except ValueError as e:
            raise ValueError(f"--kubelet-arg {arg!r}: {e}") from None
    if config.container_log_max_files < 2:
        raise ValueError("--kubelet-arg container-log-max-files must be at least 2")
    if config.container_log_max_size <= 0:
        raise ValueError("--kubelet-arg container-log-max-size must be positive")
    if config.image_gc_low_threshold_percent > config.image_gc_high_threshold_percent:
        raise ValueError("--kubelet-arg image-gc-low-threshold is above image-gc-high-threshold")
