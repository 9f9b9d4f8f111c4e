"""The cluster DNS as ``pyk8s server`` runs it: the ``kube-dns`` Service, our DNS server, and
the pod that shows it.

k3s deploys CoreDNS as a pod behind ``kube-system/kube-dns`` (``manifests/coredns.yaml``).
We run our DNS server (:mod:`pyk8s.dns`) in the server process instead, listening on the
node's address, and show it in the API as a host-network pod, ``kube-system/coredns-<node>``
(labels ``k8s-app=kube-dns``), bound to the server's own node and marked as a mirror pod
(``kubernetes.io/config.mirror``), so the kubelet leaves it alone as it leaves the mirror of
a static pod. Its status is the truth about the server: Running and Ready while the server
answers, not Ready while it cannot listen; it is recreated if deleted. The Service selects
it like any Service selects its pods, so the endpointslice and endpoints controllers give
``kube-dns`` the pod as endpoint and the service proxy DNATs ``10.43.0.10:53`` to it, from
pods and from the host alike. ``kubectl get pods,svc,endpoints -n kube-system -l
k8s-app=kube-dns`` then looks as it does on a k3s cluster.

Without a node agent in the process (``--disable-agent``) there is no node to show a pod
on: the Service then has no selector and we write its EndpointSlice ourselves.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import hashlib
import logging
from typing import Any

import pyk8s
from pyk8s.api import errors
from pyk8s.client import rest
from pyk8s.cluster.settings import KubeDNSConfig
from pyk8s.dns import controller as dns_controller
from pyk8s.dns import records
from pyk8s.dns import server as dns_server
from pyk8s.kubelet import node_status

log = logging.getLogger(__name__)

SERVICES = rest.ResourceRef("", "v1", "services", True, "Service")
PODS = rest.ResourceRef("", "v1", "pods", True, "Pod")
NODES = rest.ResourceRef("", "v1", "nodes", False, "Node")
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
NODE_WAIT = 1.0  # how often to look for the node before its pod can be shown
CONTAINER = "coredns"
MIRROR = "kubernetes.io/config.mirror"
CONFIG_HASH = "kubernetes.io/config.hash"
CONFIG_SOURCE = "kubernetes.io/config.source"
IN_PROCESS = "pyk8s.io/in-process"


def service(config: KubeDNSConfig) -> dict[str, Any]:
    if config.node_name:  # the pod names its ports; no metrics port: nothing serves one
        targets: list[int | str] = ["dns", "dns-tcp", "metrics"]
    else:
        targets = [config.port, config.port, METRICS_PORT]
    ports = [
        {"name": "dns", "port": 53, "protocol": "UDP", "targetPort": targets[0]},
        {"name": "dns-tcp", "port": 53, "protocol": "TCP", "targetPort": targets[1]},
        {"name": "metrics", "port": METRICS_PORT, "protocol": "TCP", "targetPort": targets[2]},
    ]
    spec: dict[str, Any] = {"clusterIP": config.cluster_ip, "type": "ClusterIP", "ports": ports}
    if config.node_name:
        spec["selector"] = {"k8s-app": "kube-dns"}
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": NAME, "namespace": NAMESPACE, "labels": dict(LABELS)},
        "spec": spec,
    }


def pod_name(config: KubeDNSConfig) -> str:
    return f"{CONTAINER}-{config.node_name}"


def _config_hash(config: KubeDNSConfig) -> str:
    text = f"{config.node_name} {config.listen_ip} {config.port} {config.domain}"
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


def pod(config: KubeDNSConfig) -> dict[str, Any]:
    """The pod that shows the in-process DNS server on the server's node."""
    digest = _config_hash(config)
    ports = [
        {"name": "dns", "containerPort": config.port, "hostPort": config.port, "protocol": "UDP"},
        {"name": "dns-tcp", "containerPort": config.port, "hostPort": config.port,
         "protocol": "TCP"},
    ]  # fmt: skip
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": pod_name(config),
            "namespace": NAMESPACE,
            "labels": {"k8s-app": "kube-dns"},
            "annotations": {
                MIRROR: digest,
                CONFIG_HASH: digest,
                CONFIG_SOURCE: MANAGED_BY,
                IN_PROCESS: "the cluster DNS server runs inside the pyk8s server process; "
                "this pod shows it",
            },
        },
        "spec": {
            "nodeName": config.node_name,
            "hostNetwork": True,
            "dnsPolicy": "Default",
            "priorityClassName": "system-cluster-critical",
            "automountServiceAccountToken": False,
            "containers": [
                {
                    "name": CONTAINER,
                    "image": f"pyk8s/kube-dns:v{pyk8s.__version__}",
                    "ports": ports,
                }
            ],
            "tolerations": [
                {"key": "CriticalAddonsOnly", "operator": "Exists"},
                {
                    "key": "node-role.kubernetes.io/control-plane",
                    "operator": "Exists",
                    "effect": "NoSchedule",
                },
                {"operator": "Exists", "effect": "NoExecute"},
            ],
        },
    }


def pod_status(config: KubeDNSConfig, ready: bool, started_at: str) -> dict[str, Any]:
    """What the server is doing, in the words of a pod's status."""
    flag = "True" if ready else "False"
    conditions = [
        {"type": "PodReadyToStartContainers", "status": "True"},
        {"type": "Initialized", "status": "True"},
        {"type": "Ready", "status": flag},
        {"type": "ContainersReady", "status": flag},
        {"type": "PodScheduled", "status": "True"},
    ]
    for c in conditions:
        c["lastTransitionTime"] = started_at
    if ready:
        state: dict[str, Any] = {"running": {"startedAt": started_at}}
    else:
        why = f"cannot listen on {config.listen_ip}:{config.port}"
        state = {"waiting": {"reason": "CannotListen", "message": why}}
    ip = config.listen_ip
    return {
        "phase": "Running",
        "conditions": conditions,
        "hostIP": ip,
        "hostIPs": [{"ip": ip}],
        "podIP": ip,
        "podIPs": [{"ip": ip}],
        "startTime": started_at,
        "qosClass": "BestEffort",
        "containerStatuses": [
            {
                "name": CONTAINER,
                "image": f"pyk8s/kube-dns:v{pyk8s.__version__}",
                "imageID": "",
                "ready": ready,
                "started": ready,
                "restartCount": 0,
                "state": state,
            }
        ],
    }


def _conditions_state(status: dict[str, Any]) -> tuple[Any, ...]:
    ready = [c.get("status") for c in status.get("conditions") or [] if c.get("type") == "Ready"]
    return (status.get("phase"), status.get("podIP"), tuple(ready))


async def ensure_pod(
    client: rest.Interface, config: KubeDNSConfig, ready: bool, since: str
) -> bool:
    """Create the DNS pod (again, if it was deleted or shows an older configuration) and
    make its status say ``ready``; False while its node is not registered yet.

    As a kubelet creates a static pod's mirror only once its node is registered: a pod
    bound to a node that does not exist is an orphan to the pod GC, and the node agent
    registers only after the air-gap images are in (tens of seconds on a loaded machine).
    """
    try:
        await client.get(NODES, config.node_name)
    except errors.NotFound:
        return False
    want = pod(config)
    try:
        have: dict[str, Any] | None = await client.get(PODS, want["metadata"]["name"], NAMESPACE)
    except errors.NotFound:
        have = None
    if have is not None:
        annotations = have["metadata"].get("annotations") or {}
        if annotations.get(CONFIG_HASH) != want["metadata"]["annotations"][CONFIG_HASH] or have[
            "metadata"
        ].get("deletionTimestamp"):
            with contextlib.suppress(errors.NotFound, errors.Conflict):
                await client.delete(
                    PODS, want["metadata"]["name"], NAMESPACE, grace_period_seconds=0,
                    preconditions={"uid": have["metadata"]["uid"]},
                )  # fmt: skip
            have = None
    if have is None:
        have = await client.create(PODS, want, NAMESPACE)
    status = pod_status(config, ready, since)
    if _conditions_state(have.get("status") or {}) != _conditions_state(status):
        body = {**have, "status": status}
        await client.update(PODS, body, NAMESPACE, subresource="status")
    return True


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
    """Create the Service (with its EndpointSlice when there is no pod to select), or bring
    them up to date."""
    svc = service(config)
    try:
        await client.create(SERVICES, svc, NAMESPACE)
    except errors.AlreadyExists:
        have = await client.get(SERVICES, NAME, NAMESPACE)
        spec = have.get("spec") or {}
        if (spec.get("selector"), spec.get("ports")) != (
            svc["spec"].get("selector"),
            svc["spec"]["ports"],
        ):
            spec = {**spec, "ports": svc["spec"]["ports"]}
            spec.pop("selector", None)
            if "selector" in svc["spec"]:
                spec["selector"] = svc["spec"]["selector"]
            await client.update(SERVICES, {**have, "spec": spec}, NAMESPACE)
    if config.node_name:
        # The endpointslice controller follows the pod; a slice of ours from an earlier
        # start without a pod would only confuse it.
        with contextlib.suppress(errors.NotFound):
            old = await client.get(ENDPOINT_SLICES, NAME, NAMESPACE)
            labels = old["metadata"].get("labels") or {}
            if labels.get("endpointslice.kubernetes.io/managed-by") == MANAGED_BY:
                await client.delete(ENDPOINT_SLICES, NAME, NAMESPACE)
        return
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

    An address it cannot listen on (port 53 taken, no privilege) is logged, shown as a
    not-ready pod, and tried again every ``RETRY`` seconds rather than stopping the server:
    DNS is an add-on, as CoreDNS is.
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
            if config.node_name:
                try:
                    await ensure_pod(client, config, False, _now())
                except (errors.ApiError, OSError) as e2:
                    log.warning("kube-dns pod: %s", e2)
            await asyncio.sleep(RETRY)


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


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
        since = _now()
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
        while not task.done():
            shown = True
            if config.node_name:
                try:
                    shown = await ensure_pod(client, config, True, since)
                except (errors.ApiError, OSError) as e:
                    log.warning("kube-dns pod: %s", e)
            await asyncio.wait({task}, timeout=RETRY if shown else NODE_WAIT)
        await task
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
