"""Settings for every component, one dataclass each, nested in ClusterSettings.

Passed explicitly to each component's ``run``; no module globals (kopf
``configuration.py``, k3s ``pkg/daemons/config/types.go``).
"""

from __future__ import annotations

import argparse
import ipaddress
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from pyk8s.apiserver.settings import APIServerConfig
from pyk8s.controllers.config import ControllerManagerConfig
from pyk8s.images.settings import ImagesConfig
from pyk8s.kubelet.config import KubeletConfig, apply_kubelet_args
from pyk8s.kubelet.runtime import naming
from pyk8s.metrics.config import MetricsServerConfig
from pyk8s.proxy.config import ProxyConfig, chain_prefix_for
from pyk8s.storage.factory import StorageConfig, default_data_dir

if TYPE_CHECKING:
    from pyk8s.scheduler.config import KubeSchedulerConfiguration


@dataclass(frozen=True)
class KubeDNSConfig:
    """The cluster DNS server's settings (its code: ``pyk8s.cluster.kubedns``)."""

    cluster_ip: str = "10.43.0.10"
    """The Service's ClusterIP (``--cluster-dns``), what pods get as their nameserver."""
    listen_ip: str = ""
    """Where the server listens, the Service's endpoint; empty: the node's address."""
    port: int = 53
    domain: str = "cluster.local"
    node_name: str = ""
    """The node the server's agent runs as: the DNS pod is shown on it. Empty: no pod, the
    Service has no selector and its EndpointSlice is ours."""


@dataclass(frozen=True)
class SchedulerSettings:
    """The in-process scheduler. Its KubeSchedulerConfiguration is made when it starts, so
    that the scheduler's modules load after the API server is serving, not before."""

    def configuration(self) -> KubeSchedulerConfiguration:
        from pyk8s.scheduler.config import KubeSchedulerConfiguration

        return KubeSchedulerConfiguration()


@dataclass
class ClusterSettings:
    storage: StorageConfig = field(default_factory=StorageConfig)
    apiserver: APIServerConfig = field(
        default_factory=lambda: APIServerConfig(data_dir=default_data_dir())
    )
    images: ImagesConfig = field(
        default_factory=lambda: ImagesConfig(store_root=default_data_dir() / "images")
    )
    controllers: ControllerManagerConfig | None = field(default_factory=ControllerManagerConfig)
    """None: no controller-manager in this process (``--disable-controller-manager``)."""
    scheduler: SchedulerSettings | None = field(default_factory=SchedulerSettings)
    """None: no scheduler in this process (``--disable-scheduler``, ``pyk8s apiserver``)."""
    kubelet: KubeletConfig | None = None
    """None: no node agent in this process (``--disable-agent``, ``pyk8s apiserver``)."""
    proxy: ProxyConfig | None = None
    """The service proxy, run in the node agent; None: none (no agent, ``--disable-kube-proxy``)."""
    kube_dns: KubeDNSConfig | None = None
    """The cluster DNS behind ``kube-system/kube-dns``; None: none (``--disable-kube-dns``)."""
    metrics_server: MetricsServerConfig | None = None
    """metrics-server (``v1beta1.metrics.k8s.io``); None: none (``--disable-metrics-server``)."""
    cluster_cidr: str = "10.42.0.0/16"
    """Pod addresses (``--cluster-cidr``): nodes' podCIDRs, and claimed on the host."""
    component_processes: bool = False
    """True: the scheduler runs as a supervised child process (``pyk8s server``'s default);
    False: in this process (``--in-process-components``, and code that runs a server inside
    a test's process)."""

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> ClusterSettings:
        data_dir = Path(args.data_dir) if args.data_dir else default_data_dir()
        api = APIServerConfig(data_dir=data_dir)
        if hasattr(args, "https_port"):
            api = APIServerConfig(
                data_dir=data_dir,
                https_port=args.https_port,
                bind_address=args.bind_address,
                write_kubeconfig=Path(args.write_kubeconfig) if args.write_kubeconfig else None,
                token_auth_file=Path(args.token_auth_file) if args.token_auth_file else None,
                authorization_mode=authorization_modes(args.authorization_mode),
                service_cidr=args.service_cidr,
                service_node_port_range=parse_port_range(args.service_node_port_range),
                cluster_domain=args.cluster_domain,
                extra_sans=list(args.tls_san or []),
                default_not_ready_toleration_seconds=args.default_not_ready_toleration_seconds,
                default_unreachable_toleration_seconds=args.default_unreachable_toleration_seconds,
                disable_admission_plugins=admission_plugins(args.disable_admission_plugins),
            )
        kubelet = None if getattr(args, "disable_agent", True) else _kubelet(args, api)
        return cls(
            storage=StorageConfig(
                data_dir=data_dir,
                datastore_endpoint=args.datastore_endpoint or "",
                etcd_prefix=args.etcd_prefix,
                datastore_cafile=_path(args.datastore_cafile),
                datastore_certfile=_path(args.datastore_certfile),
                datastore_keyfile=_path(args.datastore_keyfile),
            ),
            apiserver=api,
            images=ImagesConfig(
                store_root=data_dir / "images",
                registry_port=getattr(args, "registry_port", 0),
                registry_bind_address=getattr(args, "registry_bind_address", "0.0.0.0"),
                registry_auth_file=_path(getattr(args, "registry_auth_file", "")),
            ),
            controllers=None
            if getattr(args, "disable_controller_manager", True)
            else controller_config(
                args, ControllerManagerConfig(service_account_private_key_file=api.sa_key_path)
            ),
            scheduler=None if getattr(args, "disable_scheduler", True) else SchedulerSettings(),
            kubelet=kubelet,
            cluster_cidr=getattr(args, "cluster_cidr", "10.42.0.0/16"),
            component_processes=not getattr(args, "in_process_components", True),
            proxy=None
            if getattr(args, "disable_agent", True) or getattr(args, "disable_kube_proxy", True)
            else _proxy(args, data_dir),
            kube_dns=None
            if getattr(args, "disable_kube_dns", True)
            else _kube_dns(args, api, kubelet.node_name if kubelet is not None else ""),
            metrics_server=None
            if getattr(args, "disable_metrics_server", True)
            else _metrics_server(args, data_dir),
        )


AUTHORIZATION_MODES = ("Node", "RBAC", "AlwaysAllow", "AlwaysDeny")


def authorization_modes(value: str) -> list[str]:
    """``--authorization-mode`` as a list; unknown or repeated modes are an error."""
    modes = [m.strip() for m in value.split(",") if m.strip()]
    for m in modes:
        if m not in AUTHORIZATION_MODES:
            known = ", ".join(AUTHORIZATION_MODES)
            raise SystemExit(f'--authorization-mode: unknown mode "{m}" (known: {known})')
    if len(set(modes)) != len(modes):
        raise SystemExit(f"--authorization-mode: a mode is given twice: {value}")
    if not modes:
        raise SystemExit("--authorization-mode: at least one mode is needed")
    return modes


ADMISSION_PLUGINS = (
    "NamespaceLifecycle",
    "Priority",
    "ServiceAccount",
    "DefaultTolerationSeconds",
    "RuntimeClass",
    "StorageObjectInUseProtection",
)
"""The admission plugins pyk8s runs, all on by default as in kube-apiserver."""


def admission_plugins(value: str) -> frozenset[str]:
    """``--disable-admission-plugins`` as a set; an unknown name stops start-up."""
    names = [n.strip() for n in value.split(",") if n.strip()]
    for n in names:
        if n not in ADMISSION_PLUGINS:
            known = ", ".join(ADMISSION_PLUGINS)
            raise SystemExit(
                f'--disable-admission-plugins: plugin "{n}" is unknown (known: {known})'
            )
    return frozenset(names)


def add_apiserver_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--https-port", type=int, default=6443, help="HTTPS port (default 6443)")
    p.add_argument(
        "--bind-address", default="0.0.0.0", help="address to listen on (default 0.0.0.0)"
    )
    p.add_argument(
        "--write-kubeconfig",
        default="",
        help="where to write the admin kubeconfig (default <data-dir>/kubeconfig.yaml)",
    )
    p.add_argument(
        "--token-auth-file",
        default="",
        help='static bearer tokens, CSV: token,user,uid[,"group1,group2"]',
    )
    p.add_argument(
        "--authorization-mode",
        default="Node,RBAC",
        help="ordered authorizers: Node, RBAC, AlwaysAllow (default Node,RBAC)",
    )
    p.add_argument(
        "--service-cidr", default="10.43.0.0/16", help="service IP range (default 10.43.0.0/16)"
    )
    p.add_argument(
        "--service-node-port-range",
        default="30000-32767",
        help="NodePorts are allocated from this range (default 30000-32767)",
    )
    p.add_argument("--cluster-domain", default="cluster.local", help="cluster DNS domain")
    p.add_argument(
        "--tls-san", action="append", help="extra name or IP for the serving certificate"
    )
    p.add_argument(
        "--disable-admission-plugins",
        default="",
        help="admission plugins to turn off, comma-separated: " + ", ".join(ADMISSION_PLUGINS),
    )
    for which in ("not-ready", "unreachable"):
        p.add_argument(
            f"--default-{which}-toleration-seconds",
            type=int,
            default=300,
            help=f"tolerationSeconds of the {which}:NoExecute toleration every pod gets (300)",
        )


def add_registry_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--registry-port",
        type=int,
        default=0,
        help="serve the image store as a registry (distribution API v2) on this port",
    )
    p.add_argument("--registry-bind-address", default="0.0.0.0", help="address of the registry")
    p.add_argument(
        "--registry-auth-file", default="", help="user:password lines for the registry's basic auth"
    )


def _kubelet(args: argparse.Namespace, api: APIServerConfig) -> KubeletConfig:
    """The server's own node: control-plane labelled, its API trusted by the cluster CA."""
    net = ipaddress.ip_network(api.service_cidr, strict=False)
    cfg = KubeletConfig(
        data_dir=api.data_dir,
        image_store_root=api.data_dir / "images",
        port=getattr(args, "kubelet_port", 10250),
        client_ca_file=api.pki_dir / "ca.crt",
        cluster_dns=(getattr(args, "cluster_dns", "") or str(net.network_address + 10),),
        cluster_domain=api.cluster_domain,
        control_plane=True,
        node_ip=getattr(args, "node_ip", ""),
        static_pod_path=api.data_dir / "manifests",
    )
    if getattr(args, "node_name", ""):
        cfg.node_name = args.node_name.lower()
    try:
        apply_kubelet_args(cfg, getattr(args, "kubelet_arg", None) or [])
    except ValueError as e:
        raise SystemExit(str(e)) from None
    return cfg


def _proxy(args: argparse.Namespace, data_dir: Path) -> ProxyConfig:
    """Chains named after the cluster's prefix, so ``pyk8s killall`` finds them again."""
    return ProxyConfig(
        node_name=(getattr(args, "node_name", "") or "").lower(),
        chain_prefix=chain_prefix_for(naming.prefix_for(data_dir)),
        cluster_cidr=args.cluster_cidr,
    )


def _kube_dns(args: argparse.Namespace, api: APIServerConfig, node_name: str) -> KubeDNSConfig:
    net = ipaddress.ip_network(api.service_cidr, strict=False)
    cluster_ip = args.cluster_dns or str(net.network_address + 10)
    try:
        if ipaddress.ip_address(cluster_ip) not in net:
            raise ValueError(f"not in the service CIDR {api.service_cidr}")
    except ValueError as e:
        raise SystemExit(f"--cluster-dns {cluster_ip}: {e}") from None
    return KubeDNSConfig(
        cluster_ip=cluster_ip,
        listen_ip=args.cluster_dns_listen or getattr(args, "node_ip", ""),
        port=args.cluster_dns_port,
        domain=api.cluster_domain,
        node_name=node_name,
    )


def _metrics_server(args: argparse.Namespace, data_dir: Path) -> MetricsServerConfig:
    return MetricsServerConfig(
        cert_dir=data_dir / "server" / "metrics-server",
        secure_port=args.metrics_server_port,
        advertise_address=getattr(args, "node_ip", ""),
        metric_resolution=args.metric_resolution,
    )


def add_component_flags(p: argparse.ArgumentParser) -> None:
    """Which components ``pyk8s server`` runs besides the API server (k3s ``--disable-*``)."""
    p.add_argument(
        "--disable-agent", action="store_true", help="do not run the kubelet in this process"
    )
    p.add_argument("--node-name", default="", help="this machine's node name (default hostname)")
    p.add_argument(
        "--node-ip", default="", help="this node's InternalIP (default: the default route's)"
    )
    p.add_argument(
        "--kubelet-port", type=int, default=10250, help="the kubelet API port (default 10250)"
    )
    p.add_argument(
        "--kubelet-arg",
        action="append",
        metavar="NAME=VALUE",
        help="a kubelet flag, e.g. container-log-max-size=1Mi (repeatable)",
    )
    p.add_argument("--disable-scheduler", action="store_true", help="do not run the scheduler")
    p.add_argument(
        "--in-process-components",
        action="store_true",
        help="run the scheduler inside the server's process instead of as a supervised "
        "child process (`pyk8s scheduler`) beside it: for tests and debugging",
    )
    p.add_argument(
        "--disable-controller-manager",
        action="store_true",
        help="do not run the controllers in this process",
    )
    p.add_argument(
        "--cluster-cidr", default="10.42.0.0/16", help="pod CIDR, a /24 per node (10.42.0.0/16)"
    )
    add_node_lifecycle_flags(p)
    p.add_argument(
        "--cluster-dns",
        default="",
        help="the kube-dns Service's IP, pods' nameserver (default: 10th of --service-cidr)",
    )
    p.add_argument(
        "--cluster-dns-listen",
        default="",
        help="address the DNS server listens on, the Service's endpoint (default: node IP)",
    )
    p.add_argument(
        "--cluster-dns-port", type=int, default=53, help="port the DNS server listens on (53)"
    )
    p.add_argument(
        "--disable-kube-dns", action="store_true", help="do not run the cluster DNS server"
    )
    p.add_argument("--disable-kube-proxy", action="store_true", help="do not run the service proxy")
    p.add_argument(
        "--disable-metrics-server", action="store_true", help="do not run metrics-server"
    )
    p.add_argument(
        "--metrics-server-port",
        type=int,
        default=10260,
        help="metrics-server's HTTPS port (10260; taken: any free port)",
    )
    p.add_argument(
        "--metric-resolution",
        type=_duration,
        default=15.0,
        metavar="DURATION",
        help="how often metrics-server scrapes the kubelets (15s)",
    )
    p.add_argument(
        "--service-lb-pool",
        default="",
        help="addresses for LoadBalancer Services, comma-separated CIDRs or FIRST-LAST ranges "
        "(default: the nodes' addresses, as k3s' servicelb)",
    )


def _duration(value: str) -> float:
    from pyk8s.scheduler.config import parse_duration

    try:
        return parse_duration(value)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def add_node_lifecycle_flags(p: argparse.ArgumentParser) -> None:
    """kube-controller-manager's node lifecycle flags (Go durations such as 50s)."""
    d = ControllerManagerConfig()
    p.add_argument(
        "--node-monitor-period",
        type=_duration,
        default=d.node_monitor_period,
        help="how often node health is checked (default 5s)",
    )
    p.add_argument(
        "--node-monitor-grace-period",
        type=_duration,
        default=d.node_monitor_grace_period,
        help="silence after which a node is Unknown (default 50s)",
    )
    p.add_argument(
        "--node-startup-grace-period",
        type=_duration,
        default=d.node_startup_grace_period,
        help="the same for a node that never posted status, from its creation (default 1m)",
    )
    p.add_argument(
        "--node-eviction-rate",
        type=float,
        default=d.node_eviction_rate,
        help="nodes a second tainted NoExecute in a healthy zone (default 0.1)",
    )


def controller_config(
    args: argparse.Namespace, config: ControllerManagerConfig
) -> ControllerManagerConfig:
    """``config`` with the controller-manager flags of ``args`` that were defined."""
    config.cluster_cidr = getattr(args, "cluster_cidr", config.cluster_cidr)
    for name in (
        "node_monitor_period",
        "node_monitor_grace_period",
        "node_startup_grace_period",
        "node_eviction_rate",
    ):
        if hasattr(args, name):
            setattr(config, name, getattr(args, name))
    if getattr(args, "service_lb_pool", ""):
        config.service_lb_pool = _lb_pool(args.service_lb_pool)
    return config


def add_storage_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-dir", default="", help="state directory (default /var/lib/pyk8s)")
    p.add_argument(
        "--datastore-endpoint",
        default="",
        help="sqlite://PATH (default), http(s)://HOST:PORT[,...] for etcd v3, memory://",
    )
    p.add_argument(
        "--etcd-prefix",
        default="/registry",
        help="what replaces the leading /registry of every key in etcd (default /registry)",
    )
    p.add_argument("--datastore-cafile", default="", help="CA bundle for an https etcd")
    p.add_argument("--datastore-certfile", default="", help="client certificate for etcd")
    p.add_argument("--datastore-keyfile", default="", help="client key for etcd")


def _lb_pool(value: str) -> tuple[str, ...]:
    from pyk8s.controllers import servicelb  # the controllers load only when they start

    items = tuple(v.strip() for v in value.split(",") if v.strip())
    try:
        servicelb.parse_pool(items)
    except ValueError as e:
        raise SystemExit(f"--service-lb-pool: {e}") from None
    return items


def parse_port_range(value: str) -> tuple[int, int]:
    """``30000-32767`` (kube-apiserver's ``--service-node-port-range``)."""
    try:
        first, _, last = value.partition("-")
        lo, hi = int(first), int(last or first)
    except ValueError:
        raise SystemExit(f"--service-node-port-range {value!r}: want FIRST-LAST") from None
    if not 1 <= lo <= hi <= 65535:
        raise SystemExit(f"--service-node-port-range {value!r}: want 1 <= FIRST <= LAST <= 65535")
    return lo, hi


def _path(value: str) -> Path | None:
    return Path(value) if value else None
