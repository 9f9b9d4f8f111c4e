"""The node agent: image store → runtime → kubelet, as k3s ``pkg/agent`` runs them.

Used by ``pyk8s server`` (unless ``--disable-agent``) and ``pyk8s kubelet``.
"""

from __future__ import annotations

import asyncio

from pyk8s.client import rest
from pyk8s.images import airgap
from pyk8s.images import service as image_service
from pyk8s.kubelet import kubelet
from pyk8s.kubelet.config import KubeletConfig
from pyk8s.kubelet.runtime.runc import RuncRuntime


async def run(
    config: KubeletConfig,
    client: rest.Interface,
    ready: asyncio.Event | None = None,
    *,
    import_images: bool = False,
) -> None:
    """``import_images``: load ``<store>/import/*.tar`` first (k3s's air-gap images); the
    server does it itself, so only a stand-alone agent asks for it."""
    if import_images:
        await airgap.import_dir(config.image_store_root)
    runtime = RuncRuntime(config.data_dir)
    images = image_service.ImageService(config.image_store_root)
    await kubelet.Kubelet(config, client, runtime, images).run(ready)
