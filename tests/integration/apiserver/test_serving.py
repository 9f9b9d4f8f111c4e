"""Serving: TLS, authentication, version, health, metrics, discovery."""

from __future__ import annotations

import asyncio
import shutil

import aiohttp
import pytest
from cryptography import x509

from tests.integration.apiserver.conftest import Client, Cluster

UNAUTHORIZED = {
    "kind": "Status",
    "apiVersion": "v1",
    "metadata": {},
    "status": "Failure",
    "message": "Unauthorized",
    "reason": "Unauthorized",
    "code": 401,
}


async def test_anonymous_may_only_read_version_and_health(anonymous: Client) -> None:
    status, body = await anonymous.get("/version")
    assert status == 200
    assert body["gitVersion"].startswith("v1.33.") and body["gitVersion"].endswith("+pyk8s")
    for path in ("/healthz", "/livez", "/readyz"):
        status, body = await anonymous.get(path)
        assert (status, body) == (200, "ok")
    for path in ("/api", "/api/v1/namespaces", "/metrics", "/", "/nonsense"):
        status, body = await anonymous.get(path)
        assert (status, body) == (401, UNAUTHORIZED), path


async def test_static_token_authenticates(anonymous: Client) -> None:
    hdr = {"Authorization": "Bearer secret-token"}
    status, body = await anonymous.post(
        "/apis/authentication.k8s.io/v1/selfsubjectreviews",
        {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"},
        headers=hdr,
    )
    assert status == 201
    assert body["status"]["userInfo"] == {
        "username": "alice",
        "uid": "1001",
        "groups": ["devs", "qa", "system:authenticated"],
    }
    status, body = await anonymous.get("/api/v1/namespaces", headers={"Authorization": "Bearer x"})
    assert (status, body["reason"]) == (401, "Unauthorized")


async def test_client_certificate_is_the_admin(client: Client) -> None:
    status, body = await client.post(
        "/apis/authentication.k8s.io/v1/selfsubjectreviews",
        {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"},
    )
    assert status == 201
    info = body["status"]["userInfo"]
    assert info["username"] == "kubernetes-admin"
    assert "system:masters" in info["groups"]


async def test_serving_certificate_names(cluster: Cluster) -> None:
    pem = await asyncio.to_thread((cluster.config.pki_dir / "apiserver.crt").read_bytes)
    cert = x509.load_pem_x509_certificate(pem)
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    dns = set(san.get_values_for_type(x509.DNSName))
    ips = {str(i) for i in san.get_values_for_type(x509.IPAddress)}
    assert {
        "localhost",
        "kubernetes",
        "kubernetes.default",
        "kubernetes.default.svc",
        "kubernetes.default.svc.cluster.local",
    } <= dns
    assert {"127.0.0.1", "10.43.0.1"} <= ips


async def test_health_verbose_and_single_check(client: Client) -> None:
    status, body = await client.get("/readyz?verbose")
    assert status == 200
    assert "[+]ping ok" in body and body.rstrip().endswith("readyz check passed")
    status, body = await client.get("/livez/ping")
    assert (status, body) == (200, "ok")


async def test_metrics_count_requests(client: Client) -> None:
    await client.get("/api/v1/namespaces")
    status, body = await client.get("/metrics")
    assert status == 200
    assert 'apiserver_request_total{verb="LIST"' in body
    assert 'resource="namespaces"' in body and 'code="200"' in body
    assert "apiserver_request_duration_seconds_bucket{" in body


async def test_metrics_labels_of_one_namespaced_object(client: Client) -> None:
    """``GET`` of one object in a namespace is verb GET, scope "resource" (CleanScope)."""
    await client.get("/api/v1/namespaces/default/configmaps/kube-root-ca.crt")
    await client.get("/api/v1/namespaces/default/configmaps")
    _, body = await client.get("/metrics")
    lines = [x for x in body.splitlines() if x.startswith("apiserver_request_total{")]
    assert any(
        'verb="GET"' in x and 'resource="configmaps"' in x and 'scope="resource"' in x
        for x in lines
    ), lines
    assert any(
        'verb="LIST"' in x and 'resource="configmaps"' in x and 'scope="namespace"' in x
        for x in lines
    ), lines


async def test_legacy_discovery(client: Client) -> None:
    status, body = await client.get("/api")
    assert status == 200 and body["kind"] == "APIVersions" and body["versions"] == ["v1"]
    status, body = await client.get("/api/v1")
    by_name = {r["name"]: r for r in body["resources"]}
    assert by_name["configmaps"] == {
        "name": "configmaps",
        "singularName": "configmap",
        "namespaced": True,
        "kind": "ConfigMap",
        "verbs": [
            "create",
            "delete",
            "deletecollection",
            "get",
            "list",
            "patch",
            "update",
            "watch",
        ],
        "shortNames": ["cm"],
        "storageVersionHash": "qFsyl6wFWjQ=",
    }
    assert by_name["pods"]["categories"] == ["all"]
    assert by_name["pods/log"]["verbs"] == ["get"]
    status, body = await client.get("/apis/apps/v1")
    scale = {r["name"]: r for r in body["resources"]}["deployments/scale"]
    assert (scale["group"], scale["version"], scale["kind"]) == ("autoscaling", "v1", "Scale")
    status, body = await client.get("/apis")
    names = [g["name"] for g in body["groups"]]
    assert "apps" in names and "rbac.authorization.k8s.io" in names
    status, body = await client.get("/apis/nonexistent.example.com")
    assert status == 404


async def test_aggregated_discovery(client: Client) -> None:
    accept = (
        "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,"
        "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,"
        "application/json"
    )
    async with client.session.get(client.base + "/apis", headers={"Accept": accept}) as resp:
        assert resp.status == 200
        assert "g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList" in resp.headers["Content-Type"]
        body = await resp.json(content_type=None)
    assert body["kind"] == "APIGroupDiscoveryList"
    apps = next(i for i in body["items"] if i["metadata"]["name"] == "apps")
    deploy = next(r for r in apps["versions"][0]["resources"] if r["resource"] == "deployments")
    assert deploy["scope"] == "Namespaced" and deploy["shortNames"] == ["deploy"]
    assert {s["subresource"] for s in deploy["subresources"]} == {"scale", "status"}
    _status, core = await client.get("/api", headers={"Accept": accept})
    assert [i["metadata"]["name"] for i in core["items"]] == [""]


@pytest.mark.parametrize("path", ["/api/v1/foos", "/apis/apps/v1/namespaces/default/foos"])
async def test_unknown_resource_is_404_status(client: Client, path: str) -> None:
    status, body = await client.get(path)
    assert status == 404
    assert body["reason"] == "NotFound"
    assert body["message"] == "the server could not find the requested resource"


async def test_handshake_names_the_client_ca(cluster: Cluster) -> None:
    """Like Go's ClientCAs: ``openssl s_client`` lists the CA clients should use
    (upstream's kube::util::test_client_certificate_authentication_enabled)."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed (hack/system-packages.txt has it)")
    proc = await asyncio.create_subprocess_exec(
        "openssl", "s_client", "-connect", f"127.0.0.1:{cluster.port}",
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    out, _ = await asyncio.wait_for(proc.communicate(), 20)
    lines = out.decode().splitlines()
    at = lines.index("Acceptable client certificate CA names")
    assert lines[at + 1] == "CN = pyk8s-ca"


async def test_tls_without_ca_is_refused(cluster: Cluster) -> None:
    async with aiohttp.ClientSession() as s:
        with pytest.raises(aiohttp.ClientConnectorCertificateError):
            await s.get(cluster.base + "/version")


async def test_component_statuses(client: Client) -> None:
    status, body = await client.get("/api/v1/componentstatuses")
    assert status == 200 and body["kind"] == "ComponentStatusList"
    etcd = body["items"][0]
    assert etcd["metadata"]["name"] == "etcd-0"
    assert etcd["conditions"][0]["status"] == "True"
    status, _ = await client.get("/api/v1/componentstatuses/nope")
    assert status == 404


async def test_impersonation(client: Client) -> None:
    headers = {
        "Impersonate-User": "system:serviceaccount:default:bot",
        "Impersonate-Group": "team-a",
    }
    status, body = await client.post(
        "/apis/authentication.k8s.io/v1/selfsubjectreviews",
        {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"},
        headers=headers,
    )
    assert status == 201
    assert body["status"]["userInfo"] == {
        "username": "system:serviceaccount:default:bot",
        "groups": [
            "system:serviceaccounts",
            "system:serviceaccounts:default",
            "team-a",
            "system:authenticated",
        ],
    }
    status, err = await client.get(
        "/api/v1/namespaces", headers={"Impersonate-Group": "only-a-group"}
    )
    assert (status, err["reason"]) == (400, "BadRequest")


async def test_reviews(client: Client) -> None:
    status, body = await client.post(
        "/apis/authentication.k8s.io/v1/tokenreviews",
        {
            "apiVersion": "authentication.k8s.io/v1",
            "kind": "TokenReview",
            "spec": {"token": "secret-token"},
        },
    )
    assert status == 201 and body["status"]["authenticated"] is True
    assert body["status"]["user"]["username"] == "alice"
    status, body = await client.post(
        "/apis/authentication.k8s.io/v1/tokenreviews",
        {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": {"token": "x"}},
    )
    assert body["status"]["authenticated"] is False
    sar = {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SubjectAccessReview",
        "spec": {"user": "bob", "resourceAttributes": {"verb": "get", "resource": "pods"}},
    }
    status, body = await client.post("/apis/authorization.k8s.io/v1/subjectaccessreviews", sar)
    assert status == 201 and body["status"]["allowed"] is False  # RBAC grants bob nothing
    masters = {**sar, "spec": {**sar["spec"], "groups": ["system:masters"]}}
    status, body = await client.post("/apis/authorization.k8s.io/v1/subjectaccessreviews", masters)
    assert status == 201 and body["status"]["allowed"] is True
    status, body = await client.post(
        "/apis/authorization.k8s.io/v1/subjectaccessreviews", {**sar, "spec": {}}
    )
    assert status == 422
    lsar = {
        **sar,
        "kind": "LocalSubjectAccessReview",
        "spec": {
            "user": "bob",
            "groups": ["system:masters"],
            "resourceAttributes": {"verb": "get", "resource": "pods", "namespace": "default"},
        },
    }
    path = "/apis/authorization.k8s.io/v1/namespaces/default/localsubjectaccessreviews"
    status, body = await client.post(path, lsar)
    assert status == 201 and body["status"]["allowed"] is True
    status, _ = await client.post(path.replace("/default/", "/other/"), lsar)
    assert status == 400
    status, body = await client.post(
        "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews",
        {
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SelfSubjectRulesReview",
            "spec": {"namespace": "default"},
        },
    )
    assert body["status"]["resourceRules"][0]["verbs"] == ["*"]


async def test_pretty_json_for_curl_and_pretty_param(cluster: Cluster) -> None:
    """curl and ``?pretty=true`` get indented JSON; other clients compact JSON."""
    ctx = await asyncio.to_thread(cluster.ssl_context)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=ctx)) as s:
        async with s.get(cluster.base + "/version", headers={"User-Agent": "curl/8.5.0"}) as r:
            assert (await r.text()).startswith('{\n  "major": "1",\n')
        async with s.get(cluster.base + "/api/v1/namespaces/nope?pretty=true") as r:
            text = await r.text()
            assert r.status == 404 and '\n  "reason": "NotFound",\n' in text
        async with s.get(cluster.base + "/version", headers={"User-Agent": "kubectl/1.33"}) as r:
            assert "\n" not in (await r.text()).strip()
