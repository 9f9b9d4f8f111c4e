"""Scraping every node's kubelet ``/metrics/resource``.

Mirrors metrics-server's ``pkg/scraper/scraper.go`` (all nodes at once, each within the
request timeout; a node that fails is left out of the batch and logged) and
``pkg/scraper/client/resource/client.go`` (the node's address by
``--kubelet-preferred-address-types``, its port from ``status.daemonEndpoints``
(``--kubelet-use-node-status-port``)). The kubelet authenticates us by the client
certificate of our kubeconfig, as it does the API server.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import ssl
import time
from typing import Any

import aiohttp

from pyk8s.client import rest
from pyk8s.metrics.config import MetricsServerConfig
from pyk8s.metrics.decode import Batch, decode

log = logging.getLogger(__name__)

NODES = rest.ResourceRef("", "v1", "nodes", False, "Node")


def kubelet_address(node: dict[str, Any], preferred: tuple[str, ...]) -> tuple[str, int] | None:
    st = node.get("status") or {}
    addresses = st.get("addresses") or []
    port = int(
        ((st.get("daemonEndpoints") or {}).get("kubeletEndpoint") or {}).get("Port") or 10250
    )
    for kind in preferred:
        for a in addresses:
            if a.get("type") == kind and a.get("address"):
                return str(a["address"]), port
    return None


class Scraper:
    def __init__(self, client: rest.Client, config: MetricsServerConfig) -> None:
        self.client = client
        self.config = config
        self._ssl: ssl.SSLContext | None = None
        self._session: aiohttp.ClientSession | None = None

    async def _open(self) -> aiohttp.ClientSession:
        if self._session is None:
            kc = dataclasses.replace(
                self.client.config, insecure_skip_tls_verify=self.config.kubelet_insecure_tls
            )
            ctx = await asyncio.to_thread(rest.build_ssl_context, kc)
            self._ssl = ctx
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(ssl=ctx if ctx is not None else False)
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def scrape(self) -> Batch:
        nodes = (await self.client.list(NODES)).get("items") or []
        results = await asyncio.gather(
            *(self._scrape_node(n) for n in nodes), return_exceptions=True
        )
        batch = Batch()
        for node, got in zip(nodes, results, strict=True):
            if isinstance(got, BaseException):
                log.warning(
                    "metrics-server: failed to scrape node %s: %s",
                    node["metadata"]["name"],
                    got or type(got).__name__,
                )
                continue
            batch.merge(got)
        return batch

    async def _scrape_node(self, node: dict[str, Any]) -> Batch:
        name = node["metadata"]["name"]
        where = kubelet_address(node, self.config.kubelet_preferred_address_types)
        if where is None:
            raise RuntimeError("no address of a preferred type")
        host, port = where
        session = await self._open()
        hostport = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        started = time.time()
        async with session.get(
            f"https://{hostport}/metrics/resource",
            timeout=aiohttp.ClientTimeout(total=self.config.kubelet_request_timeout),
        ) as resp:
            text = await resp.text()
            if resp.status != 200:
                raise RuntimeError(f"request failed, status: {resp.status}: {text[:200]}")
        return decode(text, name, started)
