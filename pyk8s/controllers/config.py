"""Settings of the controller-manager (kube-controller-manager's flags pyk8s supports).

One dataclass, nested in ``cluster.settings.ClusterSettings`` and passed to
``controllers.manager.run`` explicitly (k3s ``pkg/daemons/config/types.go``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class ControllerManagerConfig:
    controllers: list[str] = field(default_factory=lambda: ["*"])
    """``--controllers``: ``*`` enables the default set, ``name`` one more, ``-name`` one less."""
    leader_elect: bool = True
    lease_namespace: str = "kube-system"
    lease_name: str = "kube-controller-manager"
    lease_duration: float = 15.0
    renew_deadline: float = 10.0
    retry_period: float = 2.0
    root_ca: bytes | None = None
    """PEM published as ``kube-root-ca.crt``; None: the CA of the client's kubeconfig."""
    cluster_cidr: str = "10.42.0.0/16"
    node_cidr_mask_size: int = 24
    allocate_node_cidrs: bool = True
    node_monitor_period: float = 5.0
    node_monitor_grace_period: float = 50.0
    """50 s since Kubernetes 1.32 (40 s before)."""
    node_startup_grace_period: float = 60.0
    node_eviction_rate: float = 0.1
    """Nodes a second that get a NoExecute taint in a healthy zone (``--node-eviction-rate``)."""
    secondary_node_eviction_rate: float = 0.01
    """The same in a partially disrupted zone of a large cluster."""
    unhealthy_zone_threshold: float = 0.55
    large_cluster_size_threshold: int = 50
    terminated_pod_gc_threshold: int = 12500
    pod_gc_period: float = 20.0
    service_account_private_key_file: Path | None = None
    """Signs the tokens of ``kubernetes.io/service-account-token`` Secrets; None: they stay
    empty (``--service-account-private-key-file``)."""
    service_lb_pool: tuple[str, ...] = ()
    """Addresses for LoadBalancer Services (CIDRs or ``first-last``); empty: the nodes'."""
    concurrent_syncs: dict[str, int] = field(default_factory=dict)
    """Workers per controller name (``--concurrent-*-syncs``); default per controller."""
