"""The node agent: image store → runtime (with the pod network) → kubelet, and the service
proxy, as k3s ``pkg/agent`` runs them.

Used by ``pyk8s server`` (unless ``--disable-agent``) and ``pyk8s kubelet``. Nodes reach
each other's pods through routes to every node's podCIDR (``kubelet.network.hostgw``).
The pod network learns the node's ``spec.podCIDR`` from the API once the controller-manager's
node IPAM has given it (k3s' flannel waits for it the same way); until then a pod sandbox
waits for it.
"""

from __future__ import annotations

import asyncio
import logging

from pyk8s.client import rest
from pyk8s.images import airgap
from pyk8s.images import service as image_service
from pyk8s.kubelet import kubelet
from pyk8s.kubelet.config import KubeletConfig
from pyk8s.kubelet.network.bridge import BridgeNetwork
from pyk8s.kubelet.network.hostgw import HostGateway
from pyk8s.kubelet.runtime import naming
from pyk8s.kubelet.runtime.runc import RuncRuntime
from pyk8s.proxy import server as proxy_server
from pyk8s.proxy.config import ProxyConfig

log = logging.getLogger(__name__)

NODES = rest.ResourceRef("", "v1", "nodes", False, "Node")


async def run(
    config: KubeletConfig,
    client: rest.Interface,
    ready: asyncio.Event | None = None,
    *,
    import_images: bool = False,
    proxy: ProxyConfig | None = None,
    images_preloaded: asyncio.Event | None = None,
) -> None:
    """The kubelet with its pod network; with ``proxy`` (and a real client) the service proxy.

    ``import_images``: load ``<store>/import/*.tar`` (k3s's air-gap images), as a stand-alone
    agent does; the server imports them itself and passes ``images_preloaded``, set once
    they are in. Either way pods wait for the import; the node's registration, its routes
    and the service proxy do not."""
    if import_images:
        images_preloaded = asyncio.Event()
    prefix = naming.prefix_for(config.data_dir)
    network = BridgeNetwork(prefix, config.data_dir)
    runtime = RuncRuntime(config.data_dir, network=network)
    images = image_service.ImageService(config.image_store_root, preloaded=images_preloaded)
    async with asyncio.TaskGroup() as tg:
        if import_images and images_preloaded is not None:
            tg.create_task(_import(config, images_preloaded))
        tg.create_task(follow_pod_cidr(client, config.node_name, network))
        if isinstance(client, rest.Client):
            # Routes to the other nodes' pods (flannel host-gw), and the service proxy.
            tg.create_task(HostGateway(config.node_name, prefix).run(client))
            if proxy is not None:
                tg.create_task(proxy_server.run(proxy, client))
        tg.create_task(kubelet.Kubelet(config, client, runtime, images).run(ready))


async def _import(config: KubeletConfig, done: asyncio.Event) -> None:
    try:
        await airgap.import_dir(config.image_store_root)
    finally:
        done.set()


async def follow_pod_cidr(
    client: rest.Interface, node_name: str, network: BridgeNetwork, period: float = 0.5
) -> None:
    """Hand the node's ``spec.podCIDR`` to the pod network as soon as the node has one
    (the kubelet's ``updatePodCIDR``), and again whenever it changes."""
    while True:
        try:
            node = await client.get(NODES, node_name)
        except Exception as e:  # not registered yet, or the API is briefly away
            log.debug("node %s: %s", node_name, e)
        else:
            cidr = (node.get("spec") or {}).get("podCIDR") or ""
            if cidr and cidr != network.pod_cidr:
                log.info("pod network: node %s has podCIDR %s", node_name, cidr)
                network.set_pod_cidr(cidr)
        await asyncio.sleep(period if not network.pod_cidr else 30.0)
