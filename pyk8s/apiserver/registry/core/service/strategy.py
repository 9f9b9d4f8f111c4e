"""Service strategy: DNS-1035 names, type ClusterIP by default.

Mirrors ``pkg/registry/core/service/strategy.go`` (``svcStrategy``). Cluster IP
and node port allocation (``pkg/registry/core/service/ipallocator``) come with
the service REST in a later change; a client-chosen ``clusterIP`` is kept.
"""

from __future__ import annotations

from pyk8s.api import meta
from pyk8s.apiserver.registry.generic.strategy import Obj, Strategy


class ServiceStrategy(Strategy):
    name_validator = staticmethod(meta.dns1035_label)

    def prepare_for_create(self, obj: Obj) -> None:
        super().prepare_for_create(obj)
        obj["status"] = {"loadBalancer": {}}
        spec = obj.setdefault("spec", {})
        spec.setdefault("type", "ClusterIP")
        spec.setdefault("sessionAffinity", "None")
        obj["metadata"].pop("generation", None)
