"""The kubelet's settings (``KubeletConfiguration``, ``pkg/kubelet/apis/config/types.go``)."""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class KubeletConfig:
    data_dir: Path
    """The cluster's data dir: the runtime keeps its state and the kubelet its pods below it."""
    image_store_root: Path
    node_name: str = field(default_factory=lambda: socket.gethostname().lower())
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
