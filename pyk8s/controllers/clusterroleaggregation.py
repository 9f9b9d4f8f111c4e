"""ClusterRole aggregation: a role with an ``aggregationRule`` holds the union of
the rules of every ClusterRole its selectors match.

Mirrors ``pkg/controller/clusterroleaggregation/clusterroleaggregation_controller.go``:
any ClusterRole change enqueues every aggregated role (a label change may move
a role in or out of a selection); ``syncClusterRole`` gathers the matching
roles' rules in name order, drops exact duplicates, and writes them only when
they differ from what the role has.
"""

from __future__ import annotations

import copy
import logging
from typing import Any

from pyk8s.api import errors, selectors
from pyk8s.client import rest
from pyk8s.controllers import base
from pyk8s.controllers import manager as manager_
from pyk8s.controllers.resources import CLUSTERROLES

log = logging.getLogger(__name__)


def aggregate(role: base.Object, candidates: list[base.Object]) -> list[dict[str, Any]]:
    """The rules ``role`` should have: the union, in name order, without repeats."""
    name = role["metadata"]["name"]
    sels = [
        selectors.from_label_selector(s)
        for s in (role.get("aggregationRule") or {}).get("clusterRoleSelectors") or []
    ]
    rules: list[dict[str, Any]] = []
    seen: set[str] = set()
    for other in sorted(candidates, key=lambda r: r["metadata"]["name"]):
        if other["metadata"]["name"] == name:
            continue
        labels = other["metadata"].get("labels") or {}
        if not any(s.matches(labels) for s in sels if not s.empty):
            continue
        for r in other.get("rules") or []:
            key = repr(sorted((k, repr(v)) for k, v in r.items()))
            if key not in seen:
                seen.add(key)
                rules.append(copy.deepcopy(dict(r)))
    return rules


class Controller(base.Controller):
    name = "clusterrole-aggregation-controller"
    workers = 1

    def __init__(self, ctx: manager_.ControllerContext) -> None:
        super().__init__(ctx.clock)
        self.client: rest.Interface = ctx.client
        self.roles = ctx.informers.lister(CLUSTERROLES)
        self.watch(
            ctx.informers.for_resource(CLUSTERROLES),
            add=self._changed,
            update=lambda old, new: self._changed(new),
            delete=self._changed,
        )

    def _changed(self, _role: base.Object) -> None:
        for r in self.roles.list():
            if r.get("aggregationRule"):
                self.queue.add(r["metadata"]["name"])

    async def reconcile(self, key: str) -> None:
        try:
            role = self.roles.get(key)
        except errors.NotFound:
            return
        if not role.get("aggregationRule"):
            return
        rules = aggregate(role, self.roles.list())
        if list(role.get("rules") or []) == rules:
            return
        updated = copy.deepcopy(dict(role))
        updated["rules"] = rules
        await self.client.update(CLUSTERROLES, updated)


def new(ctx: manager_.ControllerContext) -> Controller:
    return Controller(ctx)
