"""The in-tree plugins, by name (``plugins/registry.go`` ``NewInTreeRegistry``).

``register`` refuses a duplicate name or a missing factory, so a mistake in this
table fails at import time rather than when a profile is built.
"""

from __future__ import annotations

from collections.abc import Mapping

from pyk8s.scheduler.framework.runtime import PluginFactory
from pyk8s.scheduler.plugins import (
    default_binder,
    default_preemption,
    image_locality,
    inter_pod_affinity,
    node_affinity,
    node_name,
    node_ports,
    node_resources_balanced_allocation,
    node_resources_fit,
    node_unschedulable,
    pod_topology_spread,
    queue_sort,
    scheduling_gates,
    taint_toleration,
    volume_binding,
)

Registry = dict[str, PluginFactory]


class RegistryError(ValueError):
    """A plugin registered twice or without a factory."""


def register(registry: Registry, name: str, factory: PluginFactory | None) -> None:
    if not name:
        raise RegistryError("a plugin needs a name")
    if name in registry:
        raise RegistryError(f"a plugin named {name} already exists")
    if factory is None or not callable(factory):
        raise RegistryError(f"plugin {name} has no factory")
    registry[name] = factory


def merge(into: Registry, other: Mapping[str, PluginFactory]) -> None:
    """Add out-of-tree plugins (``Registry.Merge``); names must not clash."""
    for name, factory in other.items():
        register(into, name, factory)


def _in_tree() -> Registry:
    r: Registry = {}
    for module in (
        queue_sort,
        scheduling_gates,
        node_unschedulable,
        node_name,
        taint_toleration,
        node_affinity,
        node_ports,
        node_resources_fit,
        volume_binding,
        pod_topology_spread,
        inter_pod_affinity,
        default_preemption,
        node_resources_balanced_allocation,
        image_locality,
        default_binder,
    ):
        register(r, module.NAME, module.new)
    return r


IN_TREE: Mapping[str, PluginFactory] = _in_tree()
