"""The service proxy component: informers on Services and EndpointSlices driving a Provider.

Mirrors ``cmd/kube-proxy/app/server.go`` (``ProxyServer.Run``: informers, event handlers,
``SyncLoop``) and ``pkg/proxy/config/config.go`` (handlers that only ask for a sync). Every
change asks the bounded-frequency runner for a sync; the sync renders from the caches, so a
burst of changes costs one sync, and a change reaches the kernel within ``min_sync_period``
plus one sync.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

from pyk8s.client import clock as clock_
from pyk8s.client import rest
from pyk8s.client.informers import factory, shared_informer
from pyk8s.proxy import runner
from pyk8s.proxy.config import ProxyConfig
from pyk8s.proxy.iptables import proxier
from pyk8s.proxy.provider import Provider

log = logging.getLogger(__name__)

SERVICES = rest.ResourceRef("", "v1", "services", True, "Service")
ENDPOINT_SLICES = rest.ResourceRef(
    "discovery.k8s.io", "v1", "endpointslices", True, "EndpointSlice"
)
# Services another proxy implementation owns (apis.LabelServiceProxyName).
SERVICE_PROXY_NAME = "service.kubernetes.io/service-proxy-name"


def _ours(obj: Mapping[str, Any]) -> bool:
    labels = (obj.get("metadata") or {}).get("labels") or {}
    return SERVICE_PROXY_NAME not in labels


class ProxyServer:
    def __init__(
        self,
        provider: Provider,
        services: shared_informer.SharedIndexInformer,
        endpoint_slices: shared_informer.SharedIndexInformer,
        config: ProxyConfig,
        *,
        clock: clock_.Clock | None = None,
    ) -> None:
        self.provider = provider
        self.services = services
        self.endpoint_slices = endpoint_slices
        self.runner = runner.BoundedFrequencyRunner(
            "sync-proxy-rules",
            self.sync,
            min_interval=config.min_sync_period,
            max_interval=config.sync_period,
            clock=clock,
        )

    async def sync(self) -> None:
        services = [s for s in self.services.store.list() if _ours(s)]
        slices = [s for s in self.endpoint_slices.store.list() if _ours(s)]
        await self.provider.sync(services, slices)

    async def run(self, ready: asyncio.Event | None = None) -> None:
        """Sync on every change until cancelled; ``ready`` is set after the first sync."""
        handler = shared_informer.EventHandlerFuncs(
            add=lambda _obj: self.runner.request(),
            update=lambda _old, _new: self.runner.request(),
            delete=lambda _obj: self.runner.request(),
        )
        self.services.add_event_handler(handler)
        self.endpoint_slices.add_event_handler(handler)
        await self.services.wait_for_sync()
        await self.endpoint_slices.wait_for_sync()
        await self.sync()  # raises when the first sync fails: a broken node should not start
        if ready is not None:
            ready.set()
        log.info("service proxy synced; following changes")
        await self.runner.run(synced=True)


async def run(
    config: ProxyConfig,
    client: rest.Client,
    ready: asyncio.Event | None = None,
    *,
    netns: str | None = None,
) -> None:
    """``pyk8s proxy``: the iptables proxier of this node, until cancelled."""
    provider = proxier.Proxier(config, netns=netns)
    await provider.setup()
    async with factory.SharedInformerFactory(client) as informers:
        server = ProxyServer(
            provider,
            informers.for_resource(SERVICES),
            informers.for_resource(ENDPOINT_SLICES),
            config,
        )
        informers.start()
        await server.run(ready)
