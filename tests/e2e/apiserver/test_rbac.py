"""RBAC end to end: the bootstrap roles, a token user bound to ``view``, ``auth can-i``,
impersonation and the escalation check, all with the real kubectl against ``pyk8s server``
(its controller-manager fills the aggregated roles)."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator

import pytest

from tests.e2e.apiserver.conftest import Server, kubectl_binary, running

VIEWER_TOKEN = "viewer-token-123"
ADMIN_NS_TOKEN = "nsadmin-token-456"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    if kubectl_binary("1.33") is None:
        pytest.skip("kubectl.1.33 is not installed")
    data = tmp_path_factory.mktemp("rbac")
    tokens = data / "tokens.csv"
    tokens.write_text(f'{VIEWER_TOKEN},viewer,1001,"viewers"\n{ADMIN_NS_TOKEN},nsadmin,1002\n')
    with running(
        data,
        command="server",
        extra_args=(
            "--token-auth-file",
            str(tokens),
            "--disable-agent",
            "--disable-scheduler",
            "--disable-kube-dns",
        ),
    ) as s:
        s.kubectl("1.33", "create", "rolebinding", "viewers", "--clusterrole=view",
                  "--group=viewers", "-n", "default")  # fmt: skip
        s.kubectl("1.33", "create", "rolebinding", "nsadmin", "--clusterrole=admin",
                  "--user=nsadmin", "-n", "default")  # fmt: skip
        s.kubectl("1.33", "create", "configmap", "cfg", "--from-literal=a=b", "-n", "default")
        _wait_aggregated(s)
        yield s


def _wait_aggregated(s: Server) -> None:
    """The controller-manager fills ``view``/``admin`` from the aggregate-to roles."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        out = s.kubectl("1.33", "get", "clusterrole", "admin", "-o",
                        "jsonpath={.rules[*].resources}").stdout  # fmt: skip
        if "configmaps" in out and "rolebindings" in out:
            return
        time.sleep(0.2)
    raise AssertionError("the admin ClusterRole was never aggregated")


def test_bootstrap_policy_is_there(cluster: Server) -> None:
    out = cluster.kubectl("1.33", "get", "clusterroles", "-o", "name").stdout.split()
    for name in ("cluster-admin", "admin", "edit", "view", "system:discovery",
                 "system:controller:namespace-controller"):  # fmt: skip
        assert f"clusterrole.rbac.authorization.k8s.io/{name}" in out
    crb = cluster.kubectl("1.33", "get", "clusterrolebinding", "cluster-admin", "-o",
                          "jsonpath={.subjects[0].name}").stdout  # fmt: skip
    assert crb == "system:masters"
    roles = cluster.kubectl("1.33", "get", "roles", "-n", "kube-system", "-o", "name").stdout
    assert "role.rbac.authorization.k8s.io/system::leader-locking-kube-scheduler" in roles


def test_viewer_can_get_but_not_delete(cluster: Server) -> None:
    got = cluster.kubectl("1.33", "--token", VIEWER_TOKEN, "get", "configmap", "cfg",
                          "-n", "default", "-o", "name").stdout  # fmt: skip
    assert got.strip() == "configmap/cfg"
    res = cluster.kubectl("1.33", "--token", VIEWER_TOKEN, "delete", "configmap", "cfg",
                          "-n", "default", check=False)  # fmt: skip
    assert res.returncode != 0
    assert res.stderr.strip() == (
        'Error from server (Forbidden): configmaps "cfg" is forbidden: User "viewer" cannot '
        'delete resource "configmaps" in API group "" in the namespace "default"'
    )
    res = cluster.kubectl("1.33", "--token", VIEWER_TOKEN, "get", "pods", "-A", check=False)
    assert (
        'pods is forbidden: User "viewer" cannot list resource "pods" in API group "" at the '
        "cluster scope"
    ) in res.stderr
    res = cluster.kubectl("1.33", "--token", VIEWER_TOKEN, "get", "secrets", "-n", "default",
                          check=False)  # fmt: skip
    assert 'cannot list resource "secrets"' in res.stderr
    # Non-resource URLs: discovery is everyone's, /metrics is system:monitoring's.
    version = cluster.kubectl("1.33", "--token", VIEWER_TOKEN, "get", "--raw", "/version")
    assert '"gitVersion"' in version.stdout
    res = cluster.kubectl("1.33", "--token", VIEWER_TOKEN, "get", "--raw", "/metrics",
                          check=False)  # fmt: skip
    assert res.stderr.strip() == (
        'Error from server (Forbidden): forbidden: User "viewer" cannot get path "/metrics"'
    )


def test_auth_can_i(cluster: Server) -> None:
    tok = ("--token", VIEWER_TOKEN)
    yes = cluster.kubectl("1.33", *tok, "auth", "can-i", "get", "pods", "-n", "default")
    assert yes.stdout.strip() == "yes"
    no = cluster.kubectl("1.33", *tok, "auth", "can-i", "delete", "pods", "-n", "default",
                         check=False)  # fmt: skip
    assert (no.returncode, no.stdout.strip()) == (1, "no")
    listed = cluster.kubectl("1.33", *tok, "auth", "can-i", "--list", "-n", "default").stdout
    rows = {line.split()[0]: line for line in listed.splitlines()[1:] if line.strip()}
    assert "[get list watch]" in rows["configmaps"]
    assert "selfsubjectaccessreviews.authorization.k8s.io" in rows
    # The admin asks on the viewer's behalf (impersonation).
    as_viewer = cluster.kubectl("1.33", "auth", "can-i", "delete", "configmaps", "-n",
                                "default", "--as", "viewer", check=False)  # fmt: skip
    assert as_viewer.stdout.strip() == "no"
    as_group = cluster.kubectl("1.33", "auth", "can-i", "delete", "configmaps", "-n", "default",
                               "--as", "someone", "--as-group", "system:masters")  # fmt: skip
    assert as_group.stdout.strip() == "yes"
    # The viewer may not impersonate.
    res = cluster.kubectl("1.33", *tok, "get", "configmaps", "--as", "root", "-n", "default",
                          check=False)  # fmt: skip
    assert res.stderr.strip() == (
        'Error from server (Forbidden): users "root" is forbidden: User "viewer" cannot '
        'impersonate resource "users" in API group "" at the cluster scope'
    )


def test_whoami(cluster: Server) -> None:
    path = "jsonpath={.status.userInfo.username} {.status.userInfo.groups}"
    out = cluster.kubectl("1.33", "--token", VIEWER_TOKEN, "auth", "whoami", "-o", path).stdout
    assert out == 'viewer ["viewers","system:authenticated"]'


def test_escalation_is_refused(cluster: Server) -> None:
    tok = ("--token", ADMIN_NS_TOKEN, "-n", "default")
    # Within what admin holds: allowed.
    cluster.kubectl("1.33", *tok, "create", "role", "cm-reader", "--verb=get",
                    "--resource=configmaps")  # fmt: skip
    # Nodes are not the namespace admin's to give.
    res = cluster.kubectl("1.33", *tok, "create", "role", "node-reader", "--verb=get",
                          "--resource=nodes", check=False)  # fmt: skip
    assert res.returncode != 0
    assert (
        'roles.rbac.authorization.k8s.io "node-reader" is forbidden: user "nsadmin" '
        '(groups=["system:authenticated"]) is attempting to grant RBAC permissions not '
        "currently held:\n"
        '{APIGroups:[""], Resources:["nodes"], Verbs:["get"]}'
    ) in res.stderr
    # Binding cluster-admin is escalation too; binding view is not.
    res = cluster.kubectl("1.33", *tok, "create", "rolebinding", "steal",
                          "--clusterrole=cluster-admin", "--user=nsadmin", check=False)  # fmt: skip
    assert "is attempting to grant RBAC permissions not currently held" in res.stderr
    cluster.kubectl("1.33", *tok, "create", "rolebinding", "friends", "--clusterrole=view",
                    "--user=friend")  # fmt: skip


def _wait_default_account(s: Server, ns: str = "default") -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if s.kubectl("1.33", "get", "sa", "default", "-n", ns, check=False).returncode == 0:
            return
        time.sleep(0.2)
    raise AssertionError("the default ServiceAccount never appeared")


def test_create_token_then_whoami(cluster: Server) -> None:
    _wait_default_account(cluster)
    token = cluster.kubectl("1.33", "create", "token", "default", "-n", "default").stdout.strip()
    assert token.count(".") == 2
    path = "jsonpath={.status.userInfo.username} {.status.userInfo.groups}"
    out = cluster.kubectl("1.33", "--token", token, "auth", "whoami", "-o", path).stdout
    assert out == (
        "system:serviceaccount:default:default "
        '["system:serviceaccounts","system:serviceaccounts:default","system:authenticated"]'
    )
    # The account has no role: RBAC refuses, with the account's user name.
    res = cluster.kubectl("1.33", "--token", token, "get", "pods", "-n", "default", check=False)
    assert (
        'pods is forbidden: User "system:serviceaccount:default:default" cannot list resource '
        '"pods" in API group "" in the namespace "default"'
    ) in res.stderr
    # A token for another audience is not for the API server.
    other = cluster.kubectl("1.33", "create", "token", "default", "-n", "default",
                            "--audience", "vault").stdout.strip()  # fmt: skip
    res = cluster.kubectl("1.33", "--token", other, "auth", "whoami", check=False)
    assert "Unauthorized" in res.stderr
    res = cluster.kubectl("1.33", "create", "token", "default", "-n", "default",
                          "--duration", "5m", check=False)  # fmt: skip
    assert "may not specify a duration less than 10 minutes" in res.stderr


def test_pod_bound_token_works_against_the_api_until_the_pod_goes(cluster: Server) -> None:
    _wait_default_account(cluster)
    cluster.kubectl("1.33", "create", "rolebinding", "sa-view", "--clusterrole=view",
                    "--serviceaccount=default:default", "-n", "default")  # fmt: skip
    cluster.kubectl("1.33", "run", "holder", "--image=busybox", "-n", "default")
    token = cluster.kubectl("1.33", "create", "token", "default", "-n", "default",
                            "--bound-object-kind", "Pod", "--bound-object-name",
                            "holder").stdout.strip()  # fmt: skip
    got = cluster.kubectl("1.33", "--token", token, "get", "pod", "holder", "-n", "default",
                          "-o", "name").stdout  # fmt: skip
    assert got.strip() == "pod/holder"
    cluster.kubectl("1.33", "delete", "pod", "holder", "-n", "default", "--grace-period=0",
                    "--force")  # fmt: skip
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:  # accepted tokens are cached for a few seconds
        res = cluster.kubectl("1.33", "--token", token, "get", "pods", "-n", "default",
                              check=False)  # fmt: skip
        if "Unauthorized" in res.stderr:
            return
        time.sleep(1)
    raise AssertionError("a token bound to a deleted pod still works")


def test_legacy_token_secret_is_filled(cluster: Server) -> None:
    _wait_default_account(cluster)
    cluster.kubectl("1.33", "apply", "-f", "-", input=(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: legacy-tok\n  namespace: default\n"
        "  annotations:\n    kubernetes.io/service-account.name: default\n"
        "type: kubernetes.io/service-account-token\n"
    ))  # fmt: skip
    deadline = time.monotonic() + 30
    token = ""
    while time.monotonic() < deadline and not token:
        token = cluster.kubectl("1.33", "get", "secret", "legacy-tok", "-n", "default", "-o",
                                "jsonpath={.data.token}").stdout  # fmt: skip
        time.sleep(0.2)
    assert token, "the token controller never filled the Secret"
    keys = cluster.kubectl("1.33", "get", "secret", "legacy-tok", "-n", "default", "-o",
                           "jsonpath={.data}").stdout  # fmt: skip
    assert '"ca.crt"' in keys and '"namespace"' in keys
    decoded = base64.b64decode(token).decode()
    out = cluster.kubectl("1.33", "--token", decoded, "auth", "whoami", "-o",
                          "jsonpath={.status.userInfo.username}").stdout  # fmt: skip
    assert out == "system:serviceaccount:default:default"


def test_oidc_discovery(cluster: Server) -> None:
    _wait_default_account(cluster)
    token = cluster.kubectl("1.33", "create", "token", "default", "-n", "default").stdout.strip()
    doc = json.loads(cluster.kubectl("1.33", "--token", token, "get", "--raw",
                                     "/.well-known/openid-configuration").stdout)  # fmt: skip
    assert doc["issuer"] == "https://kubernetes.default.svc.cluster.local"
    assert doc["jwks_uri"].endswith("/openid/v1/jwks")
    jwks = json.loads(cluster.kubectl("1.33", "get", "--raw", "/openid/v1/jwks").stdout)
    assert [k["alg"] for k in jwks["keys"]] == ["RS256"]
