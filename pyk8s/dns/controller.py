"""Keeps the DNS server's zone current: informers on Services, EndpointSlices (and Pods).

Plays the part of CoreDNS' ``plugin/kubernetes/controller.go`` (``dnsControl``: informers on
the objects records are made of). Every change asks for a rebuild; rebuilds run at most every
``min_interval`` and build the whole zone from the caches, which the server then swaps in
whole, so a query never sees half an update.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from pyk8s.client import rest
from pyk8s.client.informers import factory, shared_informer
from pyk8s.dns import records, server

log = logging.getLogger(__name__)

SERVICES = rest.ResourceRef("", "v1", "services", True, "Service")
ENDPOINT_SLICES = rest.ResourceRef(
    "discovery.k8s.io", "v1", "endpointslices", True, "EndpointSlice"
)
PODS = rest.ResourceRef("", "v1", "pods", True, "Pod")
NAMESPACES = rest.ResourceRef("", "v1", "namespaces", False, "Namespace")


class ZoneController:
    def __init__(
        self,
        config: records.DNSConfig,
        services: shared_informer.SharedIndexInformer,
        endpoint_slices: shared_informer.SharedIndexInformer,
        pods: shared_informer.SharedIndexInformer | None,
        publish: Callable[[records.Zone], None],
        *,
        namespaces: shared_informer.SharedIndexInformer | None = None,
        min_interval: float = 0.05,
    ) -> None:
        self.config = config
        self.informers = [i for i in (services, endpoint_slices, pods, namespaces) if i is not None]
        self.services, self.endpoint_slices, self.pods = services, endpoint_slices, pods
        self.namespaces = namespaces
        self.publish = publish
        self.min_interval = min_interval
        self._wanted = asyncio.Event()
        self.builds = 0

    def build(self) -> records.Zone:
        pods = self.pods.store.list() if self.pods is not None else []
        namespaces = self.namespaces.store.list() if self.namespaces is not None else []
        return records.build(
            self.services.store.list(),
            self.endpoint_slices.store.list(),
            pods,
            self.config,
            namespaces,
        )

    async def run(self, ready: asyncio.Event | None = None) -> None:
        """Publish a zone once the caches are filled, then a new one after every change."""
        handler = shared_informer.EventHandlerFuncs(
            add=lambda _obj: self._wanted.set(),
            update=lambda old, new: None if old is new else self._wanted.set(),
            delete=lambda _obj: self._wanted.set(),
        )
        for informer in self.informers:
            informer.add_event_handler(handler)
        for informer in self.informers:
            await informer.wait_for_sync()
        while True:
            self._wanted.clear()
            self.publish(self.build())
            self.builds += 1
            if ready is not None and not ready.is_set():
                ready.set()
            await self._wanted.wait()
            await asyncio.sleep(self.min_interval)  # fold a burst of changes into one build


async def run(
    config: records.DNSConfig,
    server_config: server.ServerConfig,
    client: rest.Client,
    ready: asyncio.Event | None = None,
) -> None:
    """The cluster DNS: serve the zone of ``client``'s cluster until cancelled."""
    dns = server.Server(records.build([], [], [], config), server_config)
    async with factory.SharedInformerFactory(client) as informers:
        controller = ZoneController(
            config,
            informers.for_resource(SERVICES),
            informers.for_resource(ENDPOINT_SLICES),
            informers.for_resource(PODS) if config.pods == "verified" else None,
            lambda zone: setattr(dns, "zone", zone),
            namespaces=informers.for_resource(NAMESPACES),
        )
        informers.start()
        synced = asyncio.Event()
        task = asyncio.get_running_loop().create_task(controller.run(synced))
        try:
            await synced.wait()
            host, port = await dns.start()
            log.info("cluster DNS for %s on %s:%d", config.domain, host, port)
            if ready is not None:
                ready.set()
            await task
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await dns.close()
