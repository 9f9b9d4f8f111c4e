"""The objects every cluster starts with, created (if missing) at start.

Mirrors ``pkg/controlplane/controller/systemnamespaces`` (default, kube-system,
kube-public, kube-node-lease), ``pkg/controlplane/controller/kubernetesservice``
(Service ``kubernetes`` in ``default`` on the first service IP, port 443 to
the API server's port, its Endpoints and EndpointSlice), the default ServiceCIDR
``kubernetes`` (``pkg/controlplane/controller/defaultservicecidr``) and
``pkg/registry/scheduling/rest`` (PriorityClasses ``system-node-critical`` and
``system-cluster-critical``).
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any

from pyk8s.api import errors
from pyk8s.apiserver.registry.generic.store import WriteOptions
from pyk8s.apiserver.registry.rest import REST
from pyk8s.apiserver.settings import APIServerConfig

log = logging.getLogger(__name__)

SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
MANAGER = "kube-apiserver"


async def _create(rest: REST, namespace: str, obj: dict[str, Any]) -> None:
    with contextlib.suppress(errors.AlreadyExists):
        await rest.store.create(namespace, obj, WriteOptions(field_manager=MANAGER))


def _node_address(config: APIServerConfig) -> str:
    from pyk8s.apiserver import pki

    if config.bind_address not in ("", "0.0.0.0", "::"):
        return config.bind_address
    _dns, ips = pki.serving_sans(
        service_ip=config.kubernetes_service_ip,
        cluster_domain=config.cluster_domain,
        bind_address="",
        extra=[],
    )
    for ip in ips:
        s = str(ip)
        if ip.version == 4 and not s.startswith("127.") and s != config.kubernetes_service_ip:
            return s
    return "127.0.0.1"


async def ensure_defaults(rests: dict[tuple[str, str, str], REST], config: APIServerConfig) -> None:
    namespaces = rests[("", "v1", "namespaces")]
    for name in SYSTEM_NAMESPACES:
        await _create(namespaces, "", {"metadata": {"name": name}})
    await _create(
        rests[("", "v1", "services")],
        "default",
        {
            "metadata": {
                "name": "kubernetes",
                "labels": {"component": "apiserver", "provider": "kubernetes"},
            },
            "spec": {
                "type": "ClusterIP",
                "clusterIP": config.kubernetes_service_ip,
                "clusterIPs": [config.kubernetes_service_ip],
                "ipFamilies": ["IPv4"],
                "ipFamilyPolicy": "SingleStack",
                "internalTrafficPolicy": "Cluster",
                "sessionAffinity": "None",
                "ports": [
                    {
                        "name": "https",
                        "port": 443,
                        "protocol": "TCP",
                        "targetPort": config.https_port,
                    }
                ],
            },
        },
    )
    address = await _node_address_async(config)
    await _create(
        rests[("", "v1", "endpoints")],
        "default",
        {
            "metadata": {
                "name": "kubernetes",
                "labels": {"endpointslice.kubernetes.io/skip-mirror": "true"},
            },
            "subsets": [
                {
                    "addresses": [{"ip": address}],
                    "ports": [{"name": "https", "port": config.https_port, "protocol": "TCP"}],
                }
            ],
        },
    )
    await _create(
        rests[("discovery.k8s.io", "v1", "endpointslices")],
        "default",
        {
            "metadata": {
                "name": "kubernetes",
                "labels": {"kubernetes.io/service-name": "kubernetes"},
            },
            "addressType": "IPv4",
            "endpoints": [{"addresses": [address], "conditions": {"ready": True}}],
            "ports": [{"name": "https", "port": config.https_port, "protocol": "TCP"}],
        },
    )
    await _create(
        rests[("networking.k8s.io", "v1", "servicecidrs")],
        "",
        {"metadata": {"name": "kubernetes"}, "spec": {"cidrs": [config.service_cidr]}},
    )
    pcs = rests[("scheduling.k8s.io", "v1", "priorityclasses")]
    for name, value, desc in (
        ("system-node-critical", 2000001000, "Used for system critical pods that must not be "
         "moved from their current node."),
        ("system-cluster-critical", 2000000000, "Used for system critical pods that must run "
         "in the cluster, but can be moved to another node if necessary."),
    ):  # fmt: skip
        await _create(
            pcs,
            "",
            {
                "metadata": {"name": name},
                "value": value,
                "description": desc,
                "preemptionPolicy": "PreemptLowerPriority",
            },
        )


async def _node_address_async(config: APIServerConfig) -> str:
    import asyncio

    return await asyncio.to_thread(_node_address, config)
