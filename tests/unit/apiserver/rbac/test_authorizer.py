"""The RBAC and Node authorizers and the escalation check, table-driven as upstream's
``rbac_test.go`` (``TestAuthorizer``) and ``escalation_check_test.go``."""

from __future__ import annotations

from typing import Any

import pytest

from pyk8s.api import errors
from pyk8s.apiserver import authn, authz
from pyk8s.apiserver.rbac import authorizer as rbac
from pyk8s.apiserver.rbac import escalation, node
from pyk8s.apiserver.rbac.rules import rule, url_rule

ALLOW, NO = authz.Decision.ALLOW, authz.Decision.NO_OPINION


def _role(name: str, rules: list[dict[str, Any]], ns: str = "") -> dict[str, Any]:
    md: dict[str, Any] = {"name": name}
    if ns:
        md["namespace"] = ns
    return {"metadata": md, "rules": rules}


def _binding(
    name: str, role: str, subjects: list[dict[str, Any]], ns: str = "", kind: str = "ClusterRole"
) -> dict[str, Any]:
    md: dict[str, Any] = {"name": name}
    if ns:
        md["namespace"] = ns
    return {"metadata": md, "roleRef": {"kind": kind, "name": role}, "subjects": subjects}


def _user(name: str, *groups: str) -> authn.User:
    return authn.User(name, groups=(*groups, "system:authenticated"))


POLICY = rbac.Policy(
    cluster_roles={
        "view-pods": _role("view-pods", [rule("get,list,watch", "", "pods")]),
        "scale-all": _role("scale-all", [rule("get,update", "*", "*/scale")]),
        "one-cm": _role("one-cm", [rule("get", "", "configmaps", "only-this")]),
        "urls": _role("urls", [url_rule("get", "/healthz/*,/version")]),
        "star": _role("star", [rule("*", "*", "*")]),
    },
    cluster_role_bindings=[
        _binding("viewers", "view-pods", [{"kind": "Group", "name": "viewers"}]),
        _binding("scaler", "scale-all", [{"kind": "User", "name": "sam"}]),
        _binding("urls", "urls", [{"kind": "Group", "name": "system:authenticated"}]),
        _binding("dangling", "no-such-role", [{"kind": "User", "name": "dan"}]),
    ],
    roles={
        ("team", "deployer"): _role(
            "deployer", [rule("create,delete", "apps", "deployments")], "team"
        )
    },
    role_bindings={
        "team": [
            _binding("d", "deployer", [{"kind": "User", "name": "dora"}], "team", "Role"),
            _binding("cm", "one-cm", [{"kind": "User", "name": "carl"}], "team"),
            _binding("sa", "star", [{"kind": "ServiceAccount", "name": "robot"}], "team"),
        ]
    },
)


def _attrs(user: authn.User, verb: str, resource: str = "", **kw: Any) -> authz.Attributes:
    return authz.Attributes(
        user=user, verb=verb, resource_request=bool(resource), resource=resource, **kw
    )


@pytest.mark.parametrize(
    ("attrs", "want"),
    [
        pytest.param(
            _attrs(_user("v", "viewers"), "list", "pods", namespace="x"), ALLOW, id="group-list"
        ),
        pytest.param(
            _attrs(_user("v", "viewers"), "delete", "pods", namespace="x", name="p"),
            NO,
            id="group-no-delete",
        ),
        pytest.param(
            _attrs(
                _user("v", "viewers"), "get", "pods", subresource="log", namespace="x", name="p"
            ),
            NO,
            id="subresource-not-parent",
        ),
        pytest.param(
            _attrs(
                _user("sam"),
                "update",
                "deployments",
                api_group="apps",
                subresource="scale",
                namespace="x",
                name="d",
            ),
            ALLOW,
            id="star-slash-scale",
        ),
        pytest.param(
            _attrs(
                _user("sam"), "update", "deployments", api_group="apps", namespace="x", name="d"
            ),
            NO,
            id="scale-not-parent",
        ),
        pytest.param(
            _attrs(_user("dora"), "create", "deployments", api_group="apps", namespace="team"),
            ALLOW,
            id="role-in-namespace",
        ),
        pytest.param(
            _attrs(_user("dora"), "create", "deployments", api_group="apps", namespace="other"),
            NO,
            id="role-other-namespace",
        ),
        pytest.param(
            _attrs(_user("dora"), "create", "deployments", api_group="", namespace="team"),
            NO,
            id="wrong-group",
        ),
        pytest.param(
            _attrs(_user("carl"), "get", "configmaps", namespace="team", name="only-this"),
            ALLOW,
            id="resource-name",
        ),
        pytest.param(
            _attrs(_user("carl"), "get", "configmaps", namespace="team", name="other"),
            NO,
            id="resource-name-other",
        ),
        pytest.param(
            _attrs(_user("carl"), "list", "configmaps", namespace="team"),
            NO,
            id="resource-name-list",
        ),
        pytest.param(_attrs(_user("x"), "get", path="/healthz/ping"), ALLOW, id="url-prefix"),
        pytest.param(_attrs(_user("x"), "get", path="/version"), ALLOW, id="url-exact"),
        pytest.param(_attrs(_user("x"), "post", path="/version"), NO, id="url-verb"),
        pytest.param(_attrs(_user("x"), "get", path="/versionx"), NO, id="url-no-prefix"),
        pytest.param(
            _attrs(
                _user("system:serviceaccount:team:robot", "system:serviceaccounts"),
                "delete",
                "secrets",
                namespace="team",
                name="s",
            ),
            ALLOW,
            id="serviceaccount",
        ),
        pytest.param(
            _attrs(
                _user("system:serviceaccount:other:robot"),
                "delete",
                "secrets",
                namespace="team",
                name="s",
            ),
            NO,
            id="serviceaccount-other-ns",
        ),
    ],
)
def test_rbac_authorizer(attrs: authz.Attributes, want: authz.Decision) -> None:
    a = rbac.RBACAuthorizer(rbac.RuleResolver(rbac.PolicyCache.of(POLICY)))
    assert a.authorize(attrs)[0] is want


def test_missing_role_is_the_reason() -> None:
    a = rbac.RBACAuthorizer(rbac.RuleResolver(rbac.PolicyCache.of(POLICY)))
    decision, reason = a.authorize(_attrs(_user("dan"), "get", "pods", namespace="x"))
    assert decision is NO
    assert reason == 'RBAC: clusterrole.rbac.authorization.k8s.io "no-such-role" not found'


def test_privileged_groups_and_union() -> None:
    chain = authz.Union(
        rbac.PrivilegedGroups("system:masters"),
        rbac.RBACAuthorizer(rbac.RuleResolver(rbac.PolicyCache.of(POLICY))),
    )
    admin = _user("root", "system:masters")
    assert chain.authorize(_attrs(admin, "delete", "nodes", name="n"))[0] is ALLOW
    assert chain.authorize(_attrs(_user("nobody"), "delete", "nodes", name="n"))[0] is NO
    rules, errs = chain.rules_for(_user("sam"), "")
    assert rules == [{"apiGroups": ["*"], "resources": ["*/scale"], "verbs": ["get", "update"]},
                     {"nonResourceURLs": ["/healthz/*", "/version"], "verbs": ["get"]}]  # fmt: skip
    assert not errs


@pytest.mark.parametrize(
    ("attrs", "want"),
    [
        pytest.param(
            _attrs(
                _user("system:node:n1", "system:nodes"),
                "patch",
                "nodes",
                subresource="status",
                name="n1",
            ),
            ALLOW,
            id="own-status",
        ),
        pytest.param(
            _attrs(_user("system:node:n1", "system:nodes"), "update", "nodes", name="n2"),
            NO,
            id="other-node",
        ),
        pytest.param(
            _attrs(_user("system:node:n1", "system:nodes"), "list", "pods"), ALLOW, id="list-pods"
        ),
        pytest.param(
            _attrs(
                _user("system:node:n1", "system:nodes"), "get", "secrets", namespace="a", name="s"
            ),
            ALLOW,
            id="get-secret",
        ),
        pytest.param(
            _attrs(_user("system:node:n1", "system:nodes"), "list", "secrets", namespace="a"),
            NO,
            id="list-secrets",
        ),
        pytest.param(
            _attrs(
                _user("system:node:n1", "system:nodes"),
                "update",
                "leases",
                api_group="coordination.k8s.io",
                namespace="kube-node-lease",
                name="n2",
            ),
            NO,
            id="other-lease",
        ),
        pytest.param(_attrs(_user("system:node:n1"), "list", "pods"), NO, id="not-in-group"),
    ],
)
def test_node_authorizer(attrs: authz.Attributes, want: authz.Decision) -> None:
    assert node.NodeAuthorizer().authorize(attrs)[0] is want


def _check(plural: str) -> escalation.Check:
    resolver = rbac.RuleResolver(rbac.PolicyCache.of(POLICY))
    chain = authz.Union(rbac.PrivilegedGroups("system:masters"), rbac.RBACAuthorizer(resolver))
    return escalation.Check(plural, lambda: chain, resolver)


async def _as(
    user: authn.User, plural: str, obj: dict[str, Any], old: dict[str, Any] | None = None
) -> None:
    token = authn.current_user.set(user)
    try:
        await _check(plural)("UPDATE" if old else "CREATE", obj, old)
    finally:
        authn.current_user.reset(token)


async def test_role_within_own_rights_is_allowed() -> None:
    await _as(_user("v", "viewers"), "roles", _role("r", [rule("get", "", "pods")], "x"))


async def test_role_escalation_is_forbidden_with_upstream_text() -> None:
    with pytest.raises(errors.Forbidden) as e:
        await _as(
            _user("v", "viewers"),
            "roles",
            _role("r", [rule("get,delete", "", "pods,secrets")], "x"),
        )
    assert e.value.message == (
        'roles.rbac.authorization.k8s.io "r" is forbidden: user "v" (groups=["viewers" '
        '"system:authenticated"]) is attempting to grant RBAC permissions not currently held:\n'
        '{APIGroups:[""], Resources:["pods"], Verbs:["delete"]}\n'
        '{APIGroups:[""], Resources:["secrets"], Verbs:["get" "delete"]}'
    )


async def test_masters_and_unchanged_updates_skip_the_check() -> None:
    big = _role("r", [rule("*", "*", "*")], "x")
    await _as(_user("root", "system:masters"), "roles", big)
    await _as(_user("v", "viewers"), "roles", big, old=big)


async def test_binding_needs_the_roles_rules_or_bind() -> None:
    b = _binding("b", "star", [{"kind": "User", "name": "me"}], "team")
    with pytest.raises(errors.Forbidden):
        await _as(_user("v", "viewers"), "rolebindings", b)
    ok = _binding("b", "view-pods", [{"kind": "User", "name": "me"}], "team")
    await _as(_user("v", "viewers"), "rolebindings", ok)
    missing = _binding("b", "nope", [{"kind": "User", "name": "me"}], "team")
    with pytest.raises(
        errors.Forbidden, match=r'clusterrole\.rbac\.authorization\.k8s\.io "nope" not found'
    ):
        await _as(_user("v", "viewers"), "rolebindings", missing)
