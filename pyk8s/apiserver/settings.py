"""Settings of the API server (kube-apiserver's flags that pyk8s supports).

One dataclass, nested in ``cluster.settings.ClusterSettings``; passed to
``apiserver.server.run`` explicitly (k3s ``pkg/daemons/config/types.go`` Control).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class APIServerConfig:
    data_dir: Path
    https_port: int = 6443
    bind_address: str = "0.0.0.0"
    write_kubeconfig: Path | None = None
    """Where to write the admin kubeconfig; None: ``<data-dir>/kubeconfig.yaml``."""
    token_auth_file: Path | None = None
    authorization_mode: list[str] = field(default_factory=lambda: ["Node", "RBAC"])
    """``--authorization-mode``: Node, RBAC and/or AlwaysAllow, tried in order."""
    service_account_issuer: str = ""
    """``--service-account-issuer``; empty: ``https://kubernetes.default.svc.<domain>``."""
    api_audiences: list[str] = field(default_factory=list)
    """``--api-audiences``; empty: the issuer."""
    service_account_key_file: Path | None = None
    """The RSA key that signs service-account tokens; None: ``<pki>/sa.key`` (made once)."""
    service_account_max_token_expiration: int = 0
    service_cidr: str = "10.43.0.0/16"
    service_node_port_range: tuple[int, int] = (30000, 32767)
    default_not_ready_toleration_seconds: int = 300
    default_unreachable_toleration_seconds: int = 300
    """What the DefaultTolerationSeconds admission plugin gives pods (the two flags)."""
    disable_admission_plugins: frozenset[str] = frozenset()
    """``--disable-admission-plugins``: default-on plugins left out (upstream's test-cmd
    turns ServiceAccount off so ``kubectl replace`` of a pod keeps its spec)."""
    cluster_domain: str = "cluster.local"
    extra_sans: list[str] = field(default_factory=list)
    min_request_timeout: float = 1800.0
    """Watches without ``timeoutSeconds`` last a random time in [this, 2x this)."""
    bookmark_interval: float = 60.0
    aggregator_resync: float = 10.0
    """Seconds between checks of each aggregated APIService's backend (upstream: 30)."""
    max_body_bytes: int = 3 * 1024 * 1024

    @property
    def pki_dir(self) -> Path:
        return self.data_dir / "server" / "tls"

    @property
    def sa_key_path(self) -> Path:
        return self.service_account_key_file or (self.pki_dir / "sa.key")

    @property
    def issuer(self) -> str:
        return (
            self.service_account_issuer or f"https://kubernetes.default.svc.{self.cluster_domain}"
        )

    @property
    def kubeconfig_path(self) -> Path:
        return self.write_kubeconfig or (self.data_dir / "kubeconfig.yaml")

    @property
    def kubernetes_service_ip(self) -> str:
        """The first address of the service range (``kubernetes.default``)."""
        net = ipaddress.ip_network(self.service_cidr, strict=False)
        return str(net.network_address + 1)

    @property
    def client_host(self) -> str:
        """The address clients on this machine use to reach the server."""
        if self.bind_address in ("0.0.0.0", "::", ""):
            return "127.0.0.1"
        return self.bind_address

    @property
    def url(self) -> str:
        host = self.client_host
        if ":" in host:
            host = f"[{host}]"
        return f"https://{host}:{self.https_port}"
