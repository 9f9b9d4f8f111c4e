"""The controller-manager: which controllers exist, which run, and running them.

Mirrors ``cmd/kube-controller-manager/app/controllermanager.go``:
``NewControllerDescriptors`` (one table built through a ``register`` that refuses
duplicate names or aliases and missing constructors), ``--controllers`` parsing
(``IsControllerEnabled``: ``*`` for the defaults, ``name`` and ``-name``), and
``Run`` (leader election on a Lease, then every enabled controller on one
shared informer factory).
"""

from __future__ import annotations

import asyncio
import logging
import socket
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import pyk8s
from pyk8s.client import clock as clock_
from pyk8s.client import events, leaderelection, rest
from pyk8s.client.informers import factory
from pyk8s.controllers import base
from pyk8s.controllers.config import ControllerManagerConfig

log = logging.getLogger(__name__)

USER_AGENT = f"kube-controller-manager/{pyk8s.KUBERNETES_VERSION} pyk8s/{pyk8s.__version__}"
"""The controllers' user agent: its first word names them as the manager of what they
write (``managedFields``), as kube-controller-manager's does."""


@dataclass
class ControllerContext:
    """What a controller's constructor gets (upstream ``ControllerContext``)."""

    client: rest.Interface
    informers: factory.SharedInformerFactory
    config: ControllerManagerConfig
    clock: clock_.Clock
    root_ca: bytes | None = None
    recorders: dict[str, events.EventRecorder] = field(default_factory=dict)

    def recorder(self, component: str) -> events.EventRecorder:
        """The event recorder of ``component`` (one per component, run by the manager)."""
        rec = self.recorders.get(component)
        if rec is None:
            rec = events.EventRecorder(self.client, component, clock=self.clock)
            self.recorders[component] = rec
        return rec


Constructor = Callable[[ControllerContext], base.Controller]


@dataclass(frozen=True)
class ControllerDescriptor:
    name: str
    constructor: Constructor
    aliases: tuple[str, ...] = ()
    disabled_by_default: bool = False


def build_registry(descriptors: Iterable[ControllerDescriptor]) -> dict[str, ControllerDescriptor]:
    """The table of controllers by name; refuses duplicates and descriptors without code."""
    table: dict[str, ControllerDescriptor] = {}
    seen_aliases: set[str] = set()

    def register(d: ControllerDescriptor) -> None:
        if not d.name:
            raise ValueError("a controller descriptor needs a name")
        if d.constructor is None:
            raise ValueError(f"controller {d.name!r} has no constructor")
        if d.name in table or d.name in seen_aliases:
            raise ValueError(f"controller {d.name!r} was registered twice")
        for alias in d.aliases:
            if alias in seen_aliases or alias in table or alias == d.name:
                raise ValueError(f"alias {alias!r} of controller {d.name!r} is already taken")
        seen_aliases.update(d.aliases)
        table[d.name] = d

    for d in descriptors:
        register(d)
    return table


def _descriptors() -> list[ControllerDescriptor]:
    # Imported here: each module registers one controller; the table is the index.
    from pyk8s.controllers import (
        clusterroleaggregation,
        daemonset,
        deployment,
        endpoints,
        endpointslice,
        endpointslicemirroring,
        garbagecollector,
        namespace,
        nodeipam,
        nodelifecycle,
        podgc,
        replicaset,
        rootcacert,
        serviceaccount,
        serviceaccount_tokens,
        servicelb,
        statefulset,
        tainteviction,
    )
    from pyk8s.controllers.volume import persistentvolume, pvcprotection, pvprotection

    return [
        ControllerDescriptor("namespace-controller", namespace.new, ("namespace",)),
        ControllerDescriptor("serviceaccount-controller", serviceaccount.new, ("serviceaccount",)),
        ControllerDescriptor(
            "root-ca-certificate-publisher-controller", rootcacert.new, ("root-ca-cert-publisher",)
        ),
        ControllerDescriptor(
            "garbage-collector-controller", garbagecollector.new, ("garbagecollector",)
        ),
        ControllerDescriptor("replicaset-controller", replicaset.new_replicaset, ("replicaset",)),
        ControllerDescriptor(
            "replicationcontroller-controller",
            replicaset.new_replicationcontroller,
            ("replicationcontroller",),
        ),
        ControllerDescriptor("deployment-controller", deployment.new, ("deployment",)),
        ControllerDescriptor("statefulset-controller", statefulset.new, ("statefulset",)),
        ControllerDescriptor("daemonset-controller", daemonset.new, ("daemonset",)),
        ControllerDescriptor("endpoints-controller", endpoints.new, ("endpoint",)),
        ControllerDescriptor("endpointslice-controller", endpointslice.new, ("endpointslice",)),
        ControllerDescriptor(
            "endpointslice-mirroring-controller",
            endpointslicemirroring.new,
            ("endpointslicemirroring",),
        ),
        ControllerDescriptor("node-lifecycle-controller", nodelifecycle.new, ("nodelifecycle",)),
        ControllerDescriptor("taint-eviction-controller", tainteviction.new),
        ControllerDescriptor("node-ipam-controller", nodeipam.new, ("nodeipam",)),
        ControllerDescriptor("pod-garbage-collector-controller", podgc.new, ("podgc",)),
        ControllerDescriptor(
            "persistentvolume-binder-controller",
            persistentvolume.new,
            ("persistentvolume-binder",),
        ),
        ControllerDescriptor(
            "persistentvolumeclaim-protection-controller", pvcprotection.new, ("pvc-protection",)
        ),
        ControllerDescriptor(
            "persistentvolume-protection-controller", pvprotection.new, ("pv-protection",)
        ),
        ControllerDescriptor("service-lb-controller", servicelb.new, ("servicelb",)),
        ControllerDescriptor(
            "serviceaccount-token-controller",
            serviceaccount_tokens.new,
            ("serviceaccount-token",),
        ),
        ControllerDescriptor(
            "clusterrole-aggregation-controller",
            clusterroleaggregation.new,
            ("clusterrole-aggregation",),
        ),
    ]


def controllers() -> dict[str, ControllerDescriptor]:
    return build_registry(_descriptors())


def enabled_names(flag: Iterable[str], table: dict[str, ControllerDescriptor]) -> list[str]:
    """The controllers ``--controllers`` selects, in table order.

    Names may be aliases; an unknown name is an error (upstream refuses it too).
    """
    by_alias = {a: d.name for d in table.values() for a in d.aliases}
    explicit_on: set[str] = set()
    explicit_off: set[str] = set()
    star = False
    for raw in flag:
        for item in (x.strip() for x in raw.split(",")):
            if not item:
                continue
            if item == "*":
                star = True
                continue
            off = item.startswith("-")
            name = item[1:] if off else item
            name = by_alias.get(name, name)
            if name not in table:
                raise ValueError(
                    f'"{name}" is not in the list of known controllers: ' + ", ".join(sorted(table))
                )
            (explicit_off if off else explicit_on).add(name)
    out = []
    for name, d in table.items():
        if name in explicit_off:
            continue
        if name in explicit_on or (star and not d.disabled_by_default):
            out.append(name)
    return out


async def run(
    config: ControllerManagerConfig,
    client: rest.Interface,
    ready: asyncio.Event | None = None,
    *,
    identity: str | None = None,
    clock: clock_.Clock | None = None,
) -> None:
    """Run the enabled controllers (leader-elected unless told not to) until cancelled."""
    table = controllers()
    names = enabled_names(config.controllers, table)
    clock = clock or clock_.RealClock()
    root_ca = config.root_ca
    if root_ca is None and isinstance(client, rest.Client):
        root_ca = client.config.ca_data

    async def lead() -> None:
        async with factory.SharedInformerFactory(client, clock=clock) as informers:
            ctx = ControllerContext(client, informers, config, clock, root_ca)
            started = [(name, table[name].constructor(ctx)) for name in names]
            informers.start()
            log.info("controller-manager: starting %s", ", ".join(names))
            async with asyncio.TaskGroup() as tg:
                for recorder in ctx.recorders.values():
                    tg.create_task(recorder.run())
                for name, ctl in started:
                    workers = config.concurrent_syncs.get(name)
                    tg.create_task(ctl.run(workers), name=name)
                informers.start()  # informers asked for while constructing, just in case
                if ready is not None:

                    async def mark_ready() -> None:
                        await asyncio.gather(*(c.wait_for_sync() for _, c in started))
                        ready.set()

                    tg.create_task(mark_ready())

    if not config.leader_elect:
        await lead()
        return
    lock = leaderelection.LeaseLock(
        client,
        config.lease_namespace,
        config.lease_name,
        identity or f"{socket.gethostname()}_{uuid.uuid4()}",
    )
    elector = leaderelection.LeaderElector(
        lock,
        lead,
        lease_duration=config.lease_duration,
        renew_deadline=config.renew_deadline,
        retry_period=config.retry_period,
        clock=clock,
    )
    await elector.run()
