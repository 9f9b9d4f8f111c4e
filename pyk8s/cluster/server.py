"""``pyk8s server``: wires storage, then the control-plane components, in one process.

Order as k3s ``pkg/daemons/control/server.go``: storage first, then the API
server; once it is ready, the components that talk to it (as their issues land).
Any component that exits stops the process (the task group cancels the rest).
"""

from __future__ import annotations

import asyncio
import logging

from pyk8s.apiserver import server as apiserver
from pyk8s.cluster.settings import ClusterSettings
from pyk8s.images import airgap
from pyk8s.storage import compactor, factory

log = logging.getLogger(__name__)


async def run(settings: ClusterSettings, *, with_apiserver: bool = True) -> None:
    store = await factory.open_storage(settings.storage)
    try:
        log.info("storage ready: %s", factory.describe(settings.storage))
        async with asyncio.TaskGroup() as tg:
            # Air-gap images (<data-dir>/images/import/*.tar), as k3s preloads them.
            tg.create_task(airgap.import_dir(settings.storage.data_dir / "images"))
            tg.create_task(
                compactor.run(
                    store,
                    interval=settings.storage.compaction_interval,
                    min_revisions=settings.storage.compaction_min_revisions,
                    min_age=settings.storage.compaction_min_age,
                )
            )
            if with_apiserver:
                api_ready = asyncio.Event()
                tg.create_task(apiserver.run(settings.apiserver, store, api_ready))
                await api_ready.wait()
                print(
                    f"pyk8s: API server ready at {settings.apiserver.url}; "
                    f"kubeconfig: {settings.apiserver.kubeconfig_path}",
                    flush=True,
                )
    finally:
        await store.close()
