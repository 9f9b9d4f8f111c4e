"""metrics-server's settings (``sigs.k8s.io/metrics-server`` ``cmd/metrics-server/app/options``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class MetricsServerConfig:
    cert_dir: Path
    """Where the self-signed serving certificate is kept (``--cert-dir``)."""
    bind_address: str = "0.0.0.0"
    secure_port: int = 10260
    """``--secure-port``; 0: any free port (the registered endpoint says which)."""
    advertise_address: str = ""
    """The address the ``kube-system/metrics-server`` endpoint points at; empty: the
    bind address, or this host's address when that is a wildcard."""
    metric_resolution: float = 15.0
    """Seconds between scrapes (``--metric-resolution``)."""
    kubelet_insecure_tls: bool = True
    """Do not verify the kubelets' serving certificates (``--kubelet-insecure-tls``):
    kubelets serve self-signed ones."""
    kubelet_preferred_address_types: tuple[str, ...] = ("InternalIP", "ExternalIP", "Hostname")
    kubelet_request_timeout: float = 10.0
    register: bool = True
    """Create the Service, EndpointSlice, APIService and RBAC of the addon (k3s's manifest)."""
