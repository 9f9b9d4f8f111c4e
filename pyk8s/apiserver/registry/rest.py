"""Builds the REST storage of every stored resource from the scheme table.

Mirrors the ``NewREST`` constructors collected by
``pkg/controlplane/apis/*/rest/storage_*.go``: one generic store per resource,
with its strategy, its subresource strategies and its admission steps.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pyk8s.api import scheme
from pyk8s.apiserver.admission.default_toleration_seconds import DefaultTolerationSeconds
from pyk8s.apiserver.admission.namespace_lifecycle import NamespaceLifecycle
from pyk8s.apiserver.admission.priority import Priority
from pyk8s.apiserver.admission.runtime_class import RuntimeClass
from pyk8s.apiserver.admission.service_account import ServiceAccount
from pyk8s.apiserver.admission.storage_object_in_use_protection import (
    StorageObjectInUseProtection,
)
from pyk8s.apiserver.apiextensions import crd as crd_registry
from pyk8s.apiserver.registry.apiregistration.strategy import APIServiceStrategy
from pyk8s.apiserver.registry.apps.daemonset.strategy import DaemonSetStrategy
from pyk8s.apiserver.registry.autoscaling import HorizontalPodAutoscalerV1Store
from pyk8s.apiserver.registry.batch.job.strategy import JobStrategy
from pyk8s.apiserver.registry.certificates import strategy as csr_strategy
from pyk8s.apiserver.registry.core.namespace import strategy as namespace_strategy
from pyk8s.apiserver.registry.core.namespace.storage import NamespaceStore
from pyk8s.apiserver.registry.core.node import strategy as node_strategy
from pyk8s.apiserver.registry.core.persistentvolume.strategy import (
    PersistentVolumeStatusStrategy,
    PersistentVolumeStrategy,
)
from pyk8s.apiserver.registry.core.persistentvolumeclaim.strategy import (
    PersistentVolumeClaimStrategy,
)
from pyk8s.apiserver.registry.core.pod import strategy as pod_strategy
from pyk8s.apiserver.registry.core.service import strategy as service_strategy
from pyk8s.apiserver.registry.core.service.ipallocator import ClusterIPAllocator
from pyk8s.apiserver.registry.core.service.portallocator import NodePortAllocator
from pyk8s.apiserver.registry.core.service.storage import ServiceStore
from pyk8s.apiserver.registry.events import EventsV1Store
from pyk8s.apiserver.registry.generic.store import Admit, Store
from pyk8s.apiserver.registry.generic.strategy import StatusStrategy, Strategy
from pyk8s.apiserver.registry.rbac.strategy import RBACStrategy
from pyk8s.apiserver.registry.scheduling.priorityclass.strategy import PriorityClassStrategy
from pyk8s.storage import interface as storage

_STRATEGIES: dict[tuple[str, str], type[Strategy]] = {
    ("", "pods"): pod_strategy.PodStrategy,
    ("", "namespaces"): namespace_strategy.NamespaceStrategy,
    ("", "nodes"): node_strategy.NodeStrategy,
    ("", "persistentvolumes"): PersistentVolumeStrategy,
    ("", "persistentvolumeclaims"): PersistentVolumeClaimStrategy,
    ("batch", "jobs"): JobStrategy,
    ("scheduling.k8s.io", "priorityclasses"): PriorityClassStrategy,
    ("apps", "daemonsets"): DaemonSetStrategy,
    ("apiregistration.k8s.io", "apiservices"): APIServiceStrategy,
    ("", "services"): service_strategy.ServiceStrategy,
    ("certificates.k8s.io", "certificatesigningrequests"): csr_strategy.CSRStrategy,
    ("rbac.authorization.k8s.io", "roles"): RBACStrategy,
    ("rbac.authorization.k8s.io", "rolebindings"): RBACStrategy,
    ("rbac.authorization.k8s.io", "clusterroles"): RBACStrategy,
    ("rbac.authorization.k8s.io", "clusterrolebindings"): RBACStrategy,
    ("apiextensions.k8s.io", "customresourcedefinitions"): crd_registry.CRDStrategy,
}

_SUB_STRATEGIES: dict[tuple[str, str, str], type[Strategy]] = {
    ("", "namespaces", "finalize"): namespace_strategy.NamespaceFinalizeStrategy,
    ("", "namespaces", "status"): namespace_strategy.NamespaceStatusStrategy,
    ("", "pods", "status"): pod_strategy.PodStatusStrategy,
    ("", "persistentvolumes", "status"): PersistentVolumeStatusStrategy,
    ("", "pods", "ephemeralcontainers"): pod_strategy.PodEphemeralContainersStrategy,
    ("certificates.k8s.io", "certificatesigningrequests", "approval"): (
        csr_strategy.CSRApprovalStrategy
    ),
    ("certificates.k8s.io", "certificatesigningrequests", "status"): csr_strategy.CSRStatusStrategy,
    ("apiextensions.k8s.io", "customresourcedefinitions", "status"): (
        crd_registry.CRDStatusStrategy
    ),
}


@dataclass
class REST:
    store: Store
    subresources: dict[str, Strategy] = field(default_factory=dict)
    """Strategies of the subresources that are plain updates of the object (status ...)."""
    printer: Any = None
    """The Table printer (``printers.table.Printer``) when not the kind's built-in one."""
    custom: Any = None
    """A custom resource version (``apiextensions.customresource.Version``): its schema
    drives field validation and server-side apply instead of the built-in definitions."""


def build(
    backend: storage.Interface,
    table: scheme.Scheme = scheme.DEFAULT,
    *,
    service_cidr: str = "10.43.0.0/16",
    node_port_range: tuple[int, int] = (30000, 32767),
    toleration_seconds: tuple[int, int] = (300, 300),
    disabled_admission: frozenset[str] = frozenset(),
) -> dict[tuple[str, str, str], REST]:
    """REST storage keyed by (group, version, plural), for every stored resource."""
    out: dict[tuple[str, str, str], REST] = {}
    ips = ClusterIPAllocator(backend, service_cidr)
    ports = NodePortAllocator(backend, *node_port_range)
    for res in table.resources:
        if not res.stored:
            continue
        strat_cls = _STRATEGIES.get((res.group, res.plural), Strategy)
        on = {
            "NamespaceLifecycle": True,
            "Priority": (res.group, res.plural)
            in (("", "pods"), ("scheduling.k8s.io", "priorityclasses")),
            "ServiceAccount": (res.group, res.plural) == ("", "pods"),
            "DefaultTolerationSeconds": (res.group, res.plural) == ("", "pods"),
            "RuntimeClass": (res.group, res.plural) == ("", "pods"),
            "StorageObjectInUseProtection": (res.group, res.plural)
            in (("", "persistentvolumes"), ("", "persistentvolumeclaims")),
        }
        for name in disabled_admission:
            on[name] = False
        admit: list[Admit] = []
        if on["NamespaceLifecycle"]:
            admit.append(NamespaceLifecycle(backend, res))
        if on["Priority"]:
            admit.append(Priority(backend, res))
        if on["ServiceAccount"]:
            admit.append(ServiceAccount(backend, res))
        if on["DefaultTolerationSeconds"]:
            admit.append(
                DefaultTolerationSeconds(
                    res,
                    not_ready_seconds=toleration_seconds[0],
                    unreachable_seconds=toleration_seconds[1],
                )
            )
        if on["RuntimeClass"]:
            admit.append(RuntimeClass(backend, res))
        if on["StorageObjectInUseProtection"]:
            admit.append(StorageObjectInUseProtection(res))
        store: Store
        if (res.group, res.plural) == ("", "namespaces"):
            store = NamespaceStore(res, backend, strat_cls(res), admit=admit)
        elif (res.group, res.plural) == ("apiextensions.k8s.io", "customresourcedefinitions"):
            store = crd_registry.CRDStore(res, backend, strat_cls(res), admit=admit)
        elif (res.group, res.plural) == ("", "services"):
            store = ServiceStore(res, backend, strat_cls(res), admit=admit, ips=ips, ports=ports)
        else:
            store = Store(res, backend, strat_cls(res), admit=admit)
        subs: dict[str, Strategy] = {}
        for sub in res.subresources:
            cls = _SUB_STRATEGIES.get((res.group, res.plural, sub.name))
            if cls is None and sub.name == "status":
                cls = StatusStrategy
            if cls is not None:
                subs[sub.name] = cls(res)
        out[(res.group, res.version, res.plural)] = REST(store, subs)
    core_events = out.get(("", "v1", "events"))
    hpa_v2 = out.get(("autoscaling", "v2", "horizontalpodautoscalers"))
    for key, r in list(out.items()):
        if key == ("events.k8s.io", "v1", "events") and core_events is not None:
            out[key] = REST(EventsV1Store(r.store.resource, core_events.store))
        if key == ("autoscaling", "v1", "horizontalpodautoscalers") and hpa_v2 is not None:
            out[key] = REST(HorizontalPodAutoscalerV1Store(r.store.resource, hpa_v2.store))
    return out
