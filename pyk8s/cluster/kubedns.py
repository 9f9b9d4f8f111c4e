"""The cluster DNS as ``pyk8s server`` runs it: the ``kube-dns`` Service and our DNS server.

k3s deploys CoreDNS as a pod behind ``kube-system/kube-dns`` (``manifests/coredns.yaml``).
We run our DNS server (:mod:`pyk8s.dns`) in the server process instead, listening on the
node's address, and publish that address as the Service's endpoint (a selector-less Service
with an EndpointSlice of our own), so the service proxy DNATs ``10.43.0.10:53`` to it as for
any Service, from pods and from the host alike.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from dataclasses import dataclass
from typing import Any

from pyk8s.api import errors
from pyk8s.client import rest
from pyk8s.dns import controller as dns_controller
from pyk8s.dns import records
from pyk8s.dns import server as dns_server
from pyk8s.kubelet import node_status

log = logging.getLogger(__name__)

SERVICES = rest.ResourceRef("", "v1", "services", True, "Service")
ENDPOINT_SLICES = rest.ResourceRef(
    "discovery.k8s.io", "v1", "endpointslices", True, "EndpointSlice"
)
NAMESPACE = "kube-system"
NAME = "kube-dns"
LABELS = {
    "k8s-app": "kube-dns",
    "kubernetes.io/cluster-service": "true",
    "kubernetes.io/name": "CoreDNS",
}
MANAGED_BY = "pyk8s-server"
METRICS_PORT = 9153
RETRY = 10.0


@dataclass(frozen=True)
class KubeDNSConfig:
    cluster_ip: str = "10.43.0.10"
    """The Service's ClusterIP (``--cluster-dns``), what pods get as their nameserver."""
    listen_ip: str = ""
    """Where the server listens, the Service's endpoint; empty: the node's address."""
    port: int = 53
    domain: str = "cluster.local"


def service(config: KubeDNSConfig) -> dict[str, Any]:
    ports = [
        {"name": "dns", "port": 53, "protocol": "UDP", "targetPort": config.port},
        {"name": "dns-tcp", "port": 53, "protocol": "TCP", "targetPort": config.port},
        {"name": "metrics", "port": METRICS_PORT, "protocol": "TCP"},
    ]
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": NAME, "namespace": NAMESPACE, "labels": dict(LABELS)},
        "spec": {"clusterIP": config.cluster_ip, "type": "ClusterIP", "ports": ports},
    }


def endpoint_slice(config: KubeDNSConfig) -> dict[str, Any]:
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {
            "name": NAME,
            "namespace": NAMESPACE,
            "labels": {
                **LABELS,
                "kubernetes.io/service-name": NAME,
                "endpointslice.kubernetes.io/managed-by": MANAGED_BY,
            },
        },
        "addressType": "IPv4",
        "endpoints": [{"addresses": [config.listen_ip], "conditions": {"ready": True}}],
        "ports": [
            {"name": "dns", "port": config.port, "protocol": "UDP"},
            {"name": "dns-tcp", "port": config.port, "protocol": "TCP"},
        ],
    }


async def ensure(client: rest.Interface, config: KubeDNSConfig) -> None:
    """Create the Service and its EndpointSlice, or bring the slice up to date."""
    with contextlib.suppress(errors.AlreadyExists):
        await client.create(SERVICES, service(config), NAMESPACE)
    want = endpoint_slice(config)
    try:
        await client.create(ENDPOINT_SLICES, want, NAMESPACE)
    except errors.AlreadyExists:
        have = await client.get(ENDPOINT_SLICES, NAME, NAMESPACE)
        if (have.get("endpoints"), have.get("ports")) != (want["endpoints"], want["ports"]):
            want["metadata"]["resourceVersion"] = have["metadata"]["resourceVersion"]
            await client.update(ENDPOINT_SLICES, want, NAMESPACE)


async def run(
    config: KubeDNSConfig, client: rest.Client, ready: asyncio.Event | None = None
) -> None:
    """Serve the cluster's DNS until cancelled, behind the ``kube-dns`` Service.

    An address it cannot listen on (port 53 taken, no privilege) is logged and tried again
    every ``RETRY`` seconds rather than stopping the server: DNS is an add-on, as CoreDNS is.
    """
    if not config.listen_ip:
        config = dataclasses.replace(
            config, listen_ip=await asyncio.to_thread(node_status.internal_ip)
        )
    while True:
        try:
            await _serve(config, client, ready)
        except OSError as e:
            log.error(
                "cluster DNS cannot listen on %s:%d (%s); retrying in %.0fs",
                config.listen_ip, config.port, e, RETRY,
            )  # fmt: skip
            await asyncio.sleep(RETRY)


async def _serve(config: KubeDNSConfig, client: rest.Client, ready: asyncio.Event | None) -> None:
    served = asyncio.Event()
    task = asyncio.get_running_loop().create_task(
        dns_controller.run(
            records.DNSConfig(domain=config.domain, dns_ip=config.cluster_ip),
            dns_server.ServerConfig(host=config.listen_ip, port=config.port),
            client,
            served,
        )
    )
    try:
        waiter = asyncio.ensure_future(served.wait())
        await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
        waiter.cancel()
        if task.done():
            await task  # raises why the server did not start
        try:
            await ensure(client, config)
        except errors.ApiError as e:  # serve anyway: the Service is what is missing
            log.error("cannot publish kube-dns at %s: %s", config.listen_ip, e)
        log.info(
            "kube-dns %s -> %s:%d (%s)", config.cluster_ip, config.listen_ip, config.port,
            config.domain,
        )  # fmt: skip
        if ready is not None:
            ready.set()
        await task
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
