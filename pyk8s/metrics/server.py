"""metrics-server: scrape the kubelets, keep two points each, serve ``metrics.k8s.io``.

Mirrors ``sigs.k8s.io/metrics-server`` ``pkg/server/server.go`` (``RunUntil``: a scrape
every ``--metric-resolution``, each batch stored, the API served meanwhile) and
``cmd/metrics-server/app/start.go``. It reaches the cluster only through its client: the
trust for the aggregator's front-proxy certificate comes from the
``extension-apiserver-authentication`` ConfigMap, permissions from SubjectAccessReviews,
nodes and pods from the API. It is ready once it listens and its addon objects exist; the
first usages appear after two scrapes.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import socket
import ssl
import time

from aiohttp import web

from pyk8s.api import errors
from pyk8s.client import rest
from pyk8s.metrics import addon, certs, delegation
from pyk8s.metrics.api import MetricsAPI
from pyk8s.metrics.config import MetricsServerConfig
from pyk8s.metrics.scraper import Scraper
from pyk8s.metrics.storage import Storage

log = logging.getLogger(__name__)

USER_AGENT = "metrics-server/pyk8s"


def host_address() -> str:
    """The address of the default route's interface (no packet is sent)."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("10.255.255.255", 1))
            return str(s.getsockname()[0])
    except OSError:
        return "127.0.0.1"


async def _trust(client: rest.Client) -> delegation.Trust:
    """The ConfigMap the API server publishes; waited for, as metrics-server waits."""
    while True:
        try:
            cm = await client.get(
                delegation.CONFIGMAPS, delegation.AUTH_CONFIGMAP, delegation.AUTH_NAMESPACE
            )
        except errors.NotFound:
            log.info("metrics-server: waiting for %s", delegation.AUTH_CONFIGMAP)
            await asyncio.sleep(1.0)
            continue
        return delegation.Trust.from_configmap(cm)


def _ssl(config: MetricsServerConfig, address: str, trust: delegation.Trust) -> ssl.SSLContext:
    cert, key = certs.ensure(config.cert_dir, [f"{addon.NAME}.{addon.NAMESPACE}.svc"], [address])
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(cert, key)
    bundle = trust.ca_bundle()
    if bundle:
        ctx.load_verify_locations(cadata=bundle)
        ctx.verify_mode = ssl.CERT_OPTIONAL
    return ctx


async def run(
    config: MetricsServerConfig, client: rest.Client, ready: asyncio.Event | None = None
) -> None:
    """Serve until cancelled."""
    storage = Storage(config.metric_resolution)
    scraper = Scraper(client, config)
    trust = await _trust(client)
    authenticator = await asyncio.to_thread(delegation.Authenticator, trust)
    api = MetricsAPI(client, storage, authenticator, delegation.Authorizer(client))
    address = config.advertise_address
    if not address:
        bind = config.bind_address
        address = bind if bind not in ("", "0.0.0.0", "::") else host_address()
    ctx = await asyncio.to_thread(_ssl, config, address, trust)
    runner = web.AppRunner(api.app(), access_log=None, handle_signals=False)
    await runner.setup()
    try:
        site = web.TCPSite(runner, config.bind_address or None, config.secure_port,
                           ssl_context=ctx, reuse_address=True)  # fmt: skip
        try:
            await site.start()
        except OSError as e:
            if e.errno != errno.EADDRINUSE:
                raise
            # another cluster's metrics-server on this machine: the endpoint says which port
            log.warning("metrics-server: port %d is in use; serving on a free port",
                        config.secure_port)  # fmt: skip
            site = web.TCPSite(runner, config.bind_address or None, 0, ssl_context=ctx)
            await site.start()
        port = config.secure_port
        sockets = getattr(site._server, "sockets", None) or []
        if sockets:
            port = int(sockets[0].getsockname()[1])
        log.info("metrics-server: serving metrics.k8s.io on https://%s:%d", address, port)
        if config.register:
            await addon.register(client, address, port)
        if ready is not None:
            ready.set()
        await _scrape_loop(scraper, storage, config.metric_resolution)
    finally:
        await scraper.close()
        with contextlib.suppress(Exception):
            await runner.cleanup()


async def _scrape_loop(scraper: Scraper, storage: Storage, resolution: float) -> None:
    while True:
        started = time.monotonic()
        try:
            batch = await scraper.scrape()
        except Exception as e:  # the API server away: the next tick tries again
            log.warning("metrics-server: scrape failed: %s", e)
        else:
            storage.store(batch)
            log.debug("metrics-server: stored %d nodes, %d pods", len(batch.nodes), len(batch.pods))
        await asyncio.sleep(max(0.0, resolution - (time.monotonic() - started)))
