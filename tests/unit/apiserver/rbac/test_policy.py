"""The bootstrap policy: well-formed, self-consistent, and reconciled additively."""

from __future__ import annotations

import copy

import pytest

from pyk8s.apiserver.rbac import covers, policy, reconcile


def _names(objs: list[dict[str, object]]) -> list[str]:
    return [o["metadata"]["name"] for o in objs]  # type: ignore[index]


def test_cluster_role_names_are_unique_and_include_the_well_known_ones() -> None:
    names = _names(policy.cluster_roles())
    assert len(names) == len(set(names))
    for wanted in (
        "cluster-admin", "admin", "edit", "view", "system:discovery", "system:basic-user",
        "system:public-info-viewer", "system:node", "system:node-proxier",
        "system:kube-scheduler", "system:kube-controller-manager", "system:monitoring",
        "system:auth-delegator", "system:heapster", "system:aggregate-to-view",
        "system:controller:clusterrole-aggregation-controller",
        "system:controller:namespace-controller",
    ):  # fmt: skip
        assert wanted in names


def test_every_binding_points_at_a_bootstrap_role() -> None:
    roles = set(_names(policy.cluster_roles()))
    for b in policy.cluster_role_bindings():
        assert b["roleRef"]["name"] in roles, b["metadata"]["name"]
    ns_roles = {
        (r["metadata"]["namespace"], r["metadata"]["name"]) for r in policy.namespace_roles()
    }
    for b in policy.namespace_role_bindings():
        assert (b["metadata"]["namespace"], b["roleRef"]["name"]) in ns_roles


def test_labels_annotations_and_aggregation_chain() -> None:
    by_name = {r["metadata"]["name"]: r for r in policy.cluster_roles()}
    for r in by_name.values():
        assert r["metadata"]["labels"]["kubernetes.io/bootstrapping"] == "rbac-defaults"
        assert r["metadata"]["annotations"][policy.AUTOUPDATE] == "true"
    assert by_name["view"]["metadata"]["labels"][policy.AGGREGATE_TO + "edit"] == "true"
    assert by_name["edit"]["metadata"]["labels"][policy.AGGREGATE_TO + "admin"] == "true"
    assert by_name["admin"]["aggregationRule"] == {
        "clusterRoleSelectors": [{"matchLabels": {policy.AGGREGATE_TO + "admin": "true"}}]
    }


@pytest.mark.parametrize(
    ("subject", "groups"),
    [
        pytest.param("cluster-admin", ["system:masters"], id="cluster-admin"),
        pytest.param("system:discovery", ["system:authenticated"], id="discovery"),
        pytest.param(
            "system:public-info-viewer",
            ["system:authenticated", "system:unauthenticated"],
            id="public-info",
        ),
    ],
)
def test_group_bindings(subject: str, groups: list[str]) -> None:
    b = {x["metadata"]["name"]: x for x in policy.cluster_role_bindings()}[subject]
    assert [s["name"] for s in b["subjects"] if s["kind"] == "Group"] == groups


def test_top_up_adds_missing_rules_and_keeps_user_additions() -> None:
    wanted = policy.cluster_role(
        "r", [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]
    )
    current = copy.deepcopy(wanted)
    current["rules"] = [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["list"]}]
    current["metadata"]["labels"]["mine"] = "yes"
    out = reconcile._top_up(current, wanted)
    assert out is not None
    assert out["rules"][0]["resources"] == ["secrets"]
    assert not covers.uncovered(out["rules"], wanted["rules"])
    assert out["metadata"]["labels"]["mine"] == "yes"
    assert reconcile._top_up(out, wanted) is None
