"""``pyk8s server``: wires storage, then the control-plane components.

Order as k3s ``pkg/daemons/control/server.go``: storage first, then the API
server; once it is ready, the components that talk to it. The scheduler runs as a child
process (``pyk8s scheduler``, kept running by :mod:`.supervisor`), so that it has a core of
its own beside the API server (bench/scheduler.py measured it: twice the pods a second at
5,000 nodes); ``--in-process-components`` keeps it in this process, as everything else is.
Any in-process component that exits stops the process (the task group cancels the rest).
Each component's modules are imported when it starts (after the API server is ready), so
that a disabled component costs nothing and the API server answers as soon as it can.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from pyk8s.cluster import supervisor
from pyk8s.cluster.settings import ClusterSettings, KubeDNSConfig
from pyk8s.storage import compactor, factory

if TYPE_CHECKING:
    from pyk8s.controllers.config import ControllerManagerConfig
    from pyk8s.images.settings import ImagesConfig
    from pyk8s.kubelet.config import KubeletConfig
    from pyk8s.metrics.config import MetricsServerConfig

log = logging.getLogger(__name__)


async def run(
    settings: ClusterSettings, *, with_apiserver: bool = True, with_controllers: bool = True
) -> None:
    claim = None
    if settings.kubelet is not None:  # the node agent puts the ranges on the host
        from pyk8s.cluster import hostranges
        from pyk8s.kubelet.runtime import naming

        data_dir = settings.kubelet.data_dir
        claim = await asyncio.to_thread(
            hostranges.acquire,
            hostranges.Claim(
                prefix=naming.prefix_for(data_dir),
                data_dir=str(data_dir),
                cluster_cidr=settings.cluster_cidr,
                service_cidr=settings.apiserver.service_cidr,
                node_ports=settings.apiserver.service_node_port_range,
            ),
        )
    try:
        await _run(settings, with_apiserver=with_apiserver, with_controllers=with_controllers)
    finally:
        if claim is not None:
            await asyncio.to_thread(hostranges.release, claim)


async def _run(settings: ClusterSettings, *, with_apiserver: bool, with_controllers: bool) -> None:
    store = await factory.open_storage(settings.storage)
    try:
        log.info("storage ready: %s", factory.describe(settings.storage))
        async with asyncio.TaskGroup() as tg:
            # Air-gap images (<data-dir>/images/import/*.tar), as k3s preloads them: the node
            # agent's pods wait for them, or a pod's first sync would try to pull them.
            imported = asyncio.Event()
            tg.create_task(_import_images(settings.images, imported))
            if settings.images.registry_port:
                tg.create_task(_registry(settings.images))
            tg.create_task(
                compactor.run(
                    store,
                    interval=settings.storage.compaction_interval,
                    min_revisions=settings.storage.compaction_min_revisions,
                    min_age=settings.storage.compaction_min_age,
                )
            )
            if with_apiserver:
                await _preload("pyk8s.apiserver.server")
                from pyk8s.apiserver import server as apiserver

                api_ready = asyncio.Event()
                tg.create_task(apiserver.run(settings.apiserver, store, api_ready))
                await api_ready.wait()
                print(
                    f"pyk8s: API server ready at {settings.apiserver.url}; "
                    f"kubeconfig: {settings.apiserver.kubeconfig_path}",
                    flush=True,
                )
                if with_controllers and settings.controllers is not None:
                    tg.create_task(run_controllers(settings, settings.controllers))
                if settings.scheduler is not None and settings.component_processes:
                    tg.create_task(_scheduler_process(settings))
                elif settings.scheduler is not None:
                    tg.create_task(_scheduler(settings))
                if settings.kube_dns is not None:
                    tg.create_task(_kube_dns(settings, settings.kube_dns))
                if settings.kubelet is not None:
                    tg.create_task(_agent(settings, settings.kubelet, imported))
                if settings.metrics_server is not None and settings.component_processes:
                    tg.create_task(_metrics_server_process(settings, settings.metrics_server))
                elif settings.metrics_server is not None:
                    tg.create_task(_metrics_server(settings, settings.metrics_server))
    finally:
        await store.close()


async def _preload(*modules: str) -> None:
    """Import ``modules`` in a thread, so the API server keeps answering meanwhile (the
    ``from ... import`` that follows then finds them loaded)."""

    def load() -> None:
        for m in modules:
            importlib.import_module(m)

    await asyncio.to_thread(load)


async def _registry(config: ImagesConfig) -> None:
    """The embedded registry (``--registry-port``): the image store over the distribution API."""
    await _preload("pyk8s.images.registry", "pyk8s.images.store")
    from pyk8s.images import registry
    from pyk8s.images import store as image_store

    store = await asyncio.to_thread(image_store.Store, config.store_root)
    users = None
    if config.registry_auth_file:
        users = await asyncio.to_thread(registry.load_users, config.registry_auth_file)
    log.info(
        "registry: serving %s on %s:%d",
        config.store_root,
        config.registry_bind_address,
        config.registry_port,
    )
    await registry.serve(store, config.registry_bind_address, config.registry_port, users=users)


async def run_controllers(settings: ClusterSettings, config: ControllerManagerConfig) -> None:
    """The controller-manager, in-process, as the admin of the kubeconfig the server wrote."""
    await _preload("pyk8s.client.rest", "pyk8s.controllers.manager")
    from pyk8s.client import rest
    from pyk8s.controllers import manager as controller_manager

    client = await rest.Client.from_kubeconfig(
        settings.apiserver.kubeconfig_path, user_agent=controller_manager.USER_AGENT
    )
    async with client:
        await controller_manager.run(config, client)
    raise RuntimeError("the controller-manager lost its leader lease")


async def _import_images(config: ImagesConfig, done: asyncio.Event) -> None:
    try:
        if not await asyncio.to_thread((config.store_root / "import").is_dir):
            return  # nothing to import: the image modules are not even loaded
        await _preload("pyk8s.images.airgap")
        from pyk8s.images import airgap

        await airgap.import_dir(config.store_root)
    finally:
        done.set()


async def _agent(settings: ClusterSettings, config: KubeletConfig, imported: asyncio.Event) -> None:
    """This machine's node agent, through the API with the admin kubeconfig (k3s gives it a
    node identity of its own; we have no node authorizer yet). Its pods wait for the air-gap
    images; the node registers, routes and proxies Services meanwhile (on a loaded machine
    the import takes tens of seconds, and the kube-dns pod shows on a registered node only)."""
    await _preload("pyk8s.client.rest", "pyk8s.cluster.agent")
    from pyk8s.client import rest
    from pyk8s.cluster import agent

    client = await rest.Client.from_kubeconfig(
        settings.apiserver.kubeconfig_path, user_agent="kubelet/pyk8s"
    )
    async with client:
        await agent.run(config, client, proxy=settings.proxy, images_preloaded=imported)


async def _kube_dns(settings: ClusterSettings, config: KubeDNSConfig) -> None:
    """The cluster DNS behind ``kube-system/kube-dns`` (CoreDNS' place)."""
    await _preload("pyk8s.client.rest", "pyk8s.cluster.kubedns")
    from pyk8s.client import rest
    from pyk8s.cluster import kubedns

    client = await rest.Client.from_kubeconfig(
        settings.apiserver.kubeconfig_path, user_agent="kube-dns/pyk8s"
    )
    async with client:
        await kubedns.run(config, client)


async def _scheduler(settings: ClusterSettings) -> None:
    """The scheduler, through the API with the admin kubeconfig (k3s runs it so too)."""
    await _preload("pyk8s.client.kubeconfig", "pyk8s.client.rest", "pyk8s.scheduler.server")
    from pyk8s.client import kubeconfig, rest
    from pyk8s.scheduler import server as scheduler

    assert settings.scheduler is not None
    config = await kubeconfig.load(settings.apiserver.kubeconfig_path)
    async with rest.Client(config, user_agent=scheduler.USER_AGENT) as client:
        await scheduler.run(settings.scheduler.configuration(), client)
    raise RuntimeError("the scheduler lost its leader lease")


def _component_argv(command: str, *args: str) -> list[str]:
    """``python -m pyk8s COMMAND ARGS``, as verbose as this process logs."""
    verbose = ["-vv"] if logging.getLogger().getEffectiveLevel() <= logging.DEBUG else []
    return [sys.executable, "-m", "pyk8s", *verbose, command, *args]


def scheduler_child(kubeconfig: Path) -> supervisor.Child:
    """``pyk8s scheduler`` leader-elected on the ``kube-system/kube-scheduler`` Lease, as
    the in-process one is."""
    return supervisor.Child("scheduler", _component_argv("scheduler", f"--kubeconfig={kubeconfig}"))


async def _scheduler_process(settings: ClusterSettings) -> None:
    """The scheduler as a supervised child process, as ``system:kube-scheduler``."""
    await _preload("pyk8s.cluster.credentials")
    from pyk8s.cluster import credentials

    path = await asyncio.to_thread(
        credentials.component_kubeconfig, settings.apiserver, "scheduler", "system:kube-scheduler"
    )
    await supervisor.Supervisor(scheduler_child(path)).run()


async def _metrics_server(settings: ClusterSettings, config: MetricsServerConfig) -> None:
    """metrics-server (k3s ships it as an addon), through the API with the admin kubeconfig."""
    await _preload("pyk8s.client.rest", "pyk8s.metrics.server")
    from pyk8s.client import rest
    from pyk8s.metrics import server as metrics_server

    client = await rest.Client.from_kubeconfig(
        settings.apiserver.kubeconfig_path, user_agent=metrics_server.USER_AGENT
    )
    async with client:
        await metrics_server.run(config, client)


def metrics_server_child(kubeconfig: Path, config: MetricsServerConfig) -> supervisor.Child:
    """``pyk8s metrics-server`` with the server's settings for it."""
    args = [
        f"--kubeconfig={kubeconfig}",
        f"--cert-dir={config.cert_dir}",
        f"--bind-address={config.bind_address}",
        f"--secure-port={config.secure_port}",
        f"--metric-resolution={round(config.metric_resolution * 1000)}ms",
    ]
    if config.advertise_address:
        args.append(f"--advertise-address={config.advertise_address}")
    return supervisor.Child("metrics-server", _component_argv("metrics-server", *args))


async def _metrics_server_process(settings: ClusterSettings, config: MetricsServerConfig) -> None:
    """metrics-server as a supervised child process. It applies its addon objects (RBAC,
    Service, APIService) as k3s's deploy controller does, so it runs with the admin
    kubeconfig."""
    child = metrics_server_child(settings.apiserver.kubeconfig_path, config)
    await supervisor.Supervisor(child).run()
