from __future__ import annotations

from typing import Any

from pyk8s.controllers import clusterroleaggregation
from pyk8s.controllers.resources import CLUSTERROLES
from tests.unit.controllers.conftest import Harness, obj

AGG = "rbac.authorization.k8s.io/aggregate-to-view"


def _role(name: str, labels: dict[str, str] | None = None, **fields: Any) -> dict[str, Any]:
    return obj("ClusterRole", name, None, metadata={"labels": labels or {}}, **fields)


def _rule(res: str) -> dict[str, Any]:
    return {"apiGroups": [""], "resources": [res], "verbs": ["get"]}


async def test_union_of_matching_roles_in_name_order(harness: Harness) -> None:
    sel = {"clusterRoleSelectors": [{"matchLabels": {AGG: "true"}}]}
    harness.client.add(CLUSTERROLES, _role("view", aggregationRule=sel, rules=[]))
    harness.client.add(CLUSTERROLES, _role("b", {AGG: "true"}, rules=[_rule("pods"), _rule("x")]))
    harness.client.add(CLUSTERROLES, _role("a", {AGG: "true"}, rules=[_rule("pods")]))
    harness.client.add(CLUSTERROLES, _role("other", rules=[_rule("secrets")]))
    ctl = await harness.start(clusterroleaggregation.new)
    await ctl.reconcile("view")
    assert harness.verbs() == [("update", "clusterroles")]
    view = next(r for r in harness.client.objects(CLUSTERROLES) if r["metadata"]["name"] == "view")
    assert view["rules"] == [_rule("pods"), _rule("x")]
    harness.client.clear_actions()
    ctl2 = await harness.start(clusterroleaggregation.new)
    await ctl2.reconcile("view")
    assert harness.verbs() == []  # already the union: no write


async def test_roles_without_aggregation_rule_are_left_alone(harness: Harness) -> None:
    harness.client.add(CLUSTERROLES, _role("plain", {AGG: "true"}, rules=[_rule("pods")]))
    ctl = await harness.start(clusterroleaggregation.new)
    await ctl.reconcile("plain")
    await ctl.reconcile("missing")
    assert harness.verbs() == []
