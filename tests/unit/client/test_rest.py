"""The REST client against an in-test server speaking the Kubernetes wire format."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiohttp import web

from pyk8s.api import errors
from pyk8s.client import clock, kubeconfig, rest

from . import certs
from .fakeapi import FakeApi, serving, status

PODS = rest.ResourceRef("", "v1", "pods", True, "Pod")
NODES = rest.ResourceRef("", "v1", "nodes", False, "Node")
DEPLOYMENTS = rest.ResourceRef("apps", "v1", "deployments", True, "Deployment")


@pytest.fixture
def api() -> FakeApi:
    return FakeApi()


@pytest.fixture
async def client(api: FakeApi) -> AsyncIterator[rest.Client]:
    async with serving(api) as url, rest.Client(kubeconfig.Config(url, token="s3cret")) as c:
        yield c


def pod(name: str, ns: str | None = None, **labels: str) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "labels": labels}
    if ns:
        meta["namespace"] = ns
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": {"containers": []}}


@pytest.mark.parametrize(
    ("ref", "args", "path"),
    [
        pytest.param(PODS, ("ns1", "p", None), "/api/v1/namespaces/ns1/pods/p", id="core-ns"),
        pytest.param(PODS, (None, None, None), "/api/v1/pods", id="all-namespaces"),
        pytest.param(
            PODS, ("ns1", "p", "status"), "/api/v1/namespaces/ns1/pods/p/status", id="subresource"
        ),
        pytest.param(NODES, ("ignored", "n1", None), "/api/v1/nodes/n1", id="cluster-scoped"),
        pytest.param(
            DEPLOYMENTS, ("d", None, None), "/apis/apps/v1/namespaces/d/deployments", id="group"
        ),
    ],
)
def test_paths(ref: rest.ResourceRef, args: tuple[Any, Any, Any], path: str) -> None:
    assert ref.path(*args) == path


def test_subresource_needs_a_name() -> None:
    with pytest.raises(ValueError, match="subresource"):
        PODS.path("ns", None, "status")


def test_ref_names() -> None:
    assert DEPLOYMENTS.api_version == "apps/v1"
    assert DEPLOYMENTS.qualified == "deployments.apps"
    assert PODS.api_version == "v1"


async def test_crud_round_trip(api: FakeApi, client: rest.Client) -> None:
    created = await client.create(PODS, pod("web", app="web"))
    assert created["metadata"]["namespace"] == "default"  # the config's namespace
    assert api.requests[-1].path == "/api/v1/namespaces/default/pods"
    assert api.requests[-1].headers["Authorization"] == "Bearer s3cret"
    assert api.requests[-1].headers["Content-Type"] == "application/json"

    got = await client.get(PODS, "web")
    assert got["metadata"]["uid"] == created["metadata"]["uid"]

    got["metadata"]["labels"]["tier"] = "front"
    updated = await client.update(PODS, got)
    assert int(updated["metadata"]["resourceVersion"]) > int(got["metadata"]["resourceVersion"])

    with pytest.raises(errors.Conflict, match="the object has been modified") as info:
        await client.update(PODS, got)  # stale resourceVersion
    assert info.value.code == 409

    listed = await client.list(PODS, "default", label_selector="tier=front")
    assert [o["metadata"]["name"] for o in listed["items"]] == ["web"]
    assert api.requests[-1].query == {"labelSelector": "tier=front"}

    result = await client.delete(
        PODS,
        "web",
        propagation_policy="Background",
        grace_period_seconds=0,
        preconditions={"uid": got["metadata"]["uid"]},
    )
    assert result["status"] == "Success"
    sent = orjson.loads(api.requests[-1].body)
    assert sent == {
        "kind": "DeleteOptions",
        "apiVersion": "v1",
        "propagationPolicy": "Background",
        "gracePeriodSeconds": 0,
        "preconditions": {"uid": got["metadata"]["uid"]},
    }
    with pytest.raises(errors.NotFound, match='pods "web" not found'):
        await client.get(PODS, "web")


async def test_already_exists(client: rest.Client) -> None:
    await client.create(PODS, pod("a", "ns"))
    with pytest.raises(errors.AlreadyExists) as info:
        await client.create(PODS, pod("a", "ns"))
    assert info.value.reason == "AlreadyExists"


@pytest.mark.parametrize(
    ("patch_type", "patch", "kwargs"),
    [
        pytest.param(rest.PatchType.MERGE, {"metadata": {"labels": {"x": "1"}}}, {}, id="merge"),
        pytest.param(
            rest.PatchType.STRATEGIC, {"metadata": {"labels": {"x": "1"}}}, {}, id="strategic"
        ),
        pytest.param(
            rest.PatchType.JSON,
            [{"op": "add", "path": "/metadata/labels/x", "value": "1"}],
            {},
            id="json",
        ),
        pytest.param(
            rest.PatchType.APPLY,
            {"metadata": {"labels": {"x": "1"}}},
            {"field_manager": "me", "force": True},
            id="apply",
        ),
    ],
)
async def test_patch_types(
    api: FakeApi,
    client: rest.Client,
    patch_type: rest.PatchType,
    patch: Any,
    kwargs: dict[str, Any],
) -> None:
    await client.create(PODS, pod("p", "ns"))
    out = await client.patch(PODS, "p", patch, "ns", patch_type=patch_type, **kwargs)
    assert out["metadata"]["labels"] == {"x": "1"}
    req = api.requests[-1]
    assert req.method == "PATCH"
    assert req.headers["Content-Type"] == patch_type.value
    if patch_type is rest.PatchType.APPLY:
        assert req.query == {"fieldManager": "me", "force": "true"}


async def test_apply_without_field_manager_is_refused(client: rest.Client) -> None:
    with pytest.raises(ValueError, match="field_manager"):
        await client.patch(PODS, "p", {}, "ns", patch_type=rest.PatchType.APPLY)


async def test_update_needs_a_name(client: rest.Client) -> None:
    with pytest.raises(ValueError, match=r"metadata\.name"):
        await client.update(PODS, {"metadata": {}})


async def test_dry_run_and_field_manager_params(api: FakeApi, client: rest.Client) -> None:
    await client.create(
        PODS, pod("p", "ns"), dry_run=True, field_manager="kubectl", field_validation="Strict"
    )
    assert api.requests[-1].query == {
        "dryRun": "All",
        "fieldManager": "kubectl",
        "fieldValidation": "Strict",
    }


async def test_paging_params(api: FakeApi, client: rest.Client) -> None:
    for i in range(5):
        api.put("/api/v1/pods", pod(f"p{i}", "ns"))
    first = await client.list(PODS, limit=2)
    assert len(first["items"]) == 2
    token = first["metadata"]["continue"]
    second = await client.list(PODS, limit=2, continue_=token)
    assert api.requests[-1].query == {"limit": "2", "continue": token}
    assert {o["metadata"]["name"] for o in second["items"]} == {"p2", "p3"}


async def test_cluster_scoped_ignores_namespace(api: FakeApi, client: rest.Client) -> None:
    await client.create(NODES, {"metadata": {"name": "n1"}})
    assert api.requests[-1].path == "/api/v1/nodes"
    assert (await client.get(NODES, "n1"))["metadata"]["name"] == "n1"


@pytest.mark.parametrize(
    ("code", "body", "cls", "reason"),
    [
        pytest.param(
            404,
            status(404, "NotFound", 'pods "x" not found'),
            errors.NotFound,
            "NotFound",
            id="status-404",
        ),
        pytest.param(409, status(409, "Conflict", "c"), errors.Conflict, "Conflict", id="conflict"),
        pytest.param(410, status(410, "Expired", "too old"), errors.Gone, "Expired", id="gone"),
        pytest.param(422, status(422, "Invalid", "bad"), errors.Invalid, "Invalid", id="invalid"),
        pytest.param(
            403, status(403, "Forbidden", "no"), errors.Forbidden, "Forbidden", id="forbidden"
        ),
        pytest.param(
            500,
            status(500, "InternalError", "boom"),
            errors.InternalError,
            "InternalError",
            id="internal",
        ),
        pytest.param(
            503,
            b"upstream connect error",
            errors.ServiceUnavailable,
            "ServiceUnavailable",
            id="plain-text",
        ),
        pytest.param(404, b"", errors.NotFound, "NotFound", id="empty-404"),
        pytest.param(418, b"teapot", errors.ApiError, "", id="unknown-code"),
    ],
)
async def test_errors_become_classes(
    api: FakeApi, client: rest.Client, code: int, body: Any, cls: type, reason: str
) -> None:
    api.fail_next(code, body)
    with pytest.raises(errors.ApiError) as info:
        await client.get(PODS, "x", "ns")
    assert type(info.value) is cls
    assert info.value.code == code
    assert info.value.reason == reason


async def test_retry_after_is_honoured(api: FakeApi, client: rest.Client) -> None:
    api.put("/api/v1/pods", pod("p", "ns"))
    api.fail_next(429, status(429, "TooManyRequests", "slow down"), {"Retry-After": "0"})
    api.fail_next(503, b"busy", {"Retry-After": "0"})
    got = await client.get(PODS, "p", "ns")
    assert got["metadata"]["name"] == "p"
    assert len(api.requests) == 3


async def test_retry_after_gives_up(api: FakeApi) -> None:
    async with serving(api) as url, rest.Client(kubeconfig.Config(url), max_retries=2) as c:
        for _ in range(3):
            api.fail_next(429, status(429, "TooManyRequests", "slow"), {"Retry-After": "0"})
        with pytest.raises(errors.TooManyRequests):
            await c.get(PODS, "p", "ns")
    assert len(api.requests) == 3


async def test_retry_waits_on_the_clock(api: FakeApi) -> None:
    fc = clock.FakeClock()
    async with serving(api) as url, rest.Client(kubeconfig.Config(server=url), clock=fc) as c:
        api.put("/api/v1/pods", pod("p", "ns"))
        api.fail_next(429, status(429, "TooManyRequests", "slow"), {"Retry-After": "7"})
        task = asyncio.create_task(c.get(PODS, "p", "ns"))
        while fc.pending() == 0:
            await asyncio.sleep(0.001)
        assert fc.next_deadline() == fc.now() + 7
        fc.advance(7)
        assert (await task)["metadata"]["name"] == "p"


async def test_no_retry_without_retry_after(api: FakeApi, client: rest.Client) -> None:
    api.fail_next(500, status(500, "InternalError", "x"))
    with pytest.raises(errors.InternalError):
        await client.get(PODS, "p", "ns")
    assert len(api.requests) == 1


async def test_non_json_success_is_a_clear_error(api: FakeApi, client: rest.Client) -> None:
    api.fail_next(200, b"<html>")
    with pytest.raises(rest.DecodeError, match="not JSON"):
        await client.get(PODS, "p", "ns")


async def test_token_file_is_reread_after_a_minute(api: FakeApi, tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("one\n")
    fc = clock.FakeClock()
    async with serving(api) as url:
        cfg = kubeconfig.Config(server=url, token_file=str(token))
        async with rest.Client(cfg, clock=fc) as c:
            await c.list(PODS)
            token.write_text("two")
            await c.list(PODS)
            fc.advance(60)
            await c.list(PODS)
    assert [r.headers["Authorization"] for r in api.requests] == [
        "Bearer one",
        "Bearer one",
        "Bearer two",
    ]


async def test_basic_auth(api: FakeApi) -> None:
    async with serving(api) as url:
        cfg = kubeconfig.Config(server=url, username="admin", password="pw")
        async with rest.Client(cfg) as c:
            await c.list(PODS)
    assert api.requests[-1].headers["Authorization"] == "Basic YWRtaW46cHc="


async def test_watch_events_and_bookmarks(api: FakeApi, client: rest.Client) -> None:
    listed = await client.list(PODS, "ns")
    rv = listed["metadata"]["resourceVersion"]
    seen: list[tuple[str, str]] = []

    async def consume() -> None:
        async with contextlib.aclosing(
            client.watch(PODS, "ns", resource_version=rv, timeout_seconds=30)
        ) as events:
            async for ev in events:
                seen.append((ev.type, ev.object["metadata"].get("name", "")))
                if len(seen) == 4:
                    return

    task = asyncio.create_task(consume())
    await asyncio.sleep(0.05)
    api.put("/api/v1/pods", pod("a", "ns"))
    api.put("/api/v1/pods", pod("other", "elsewhere"))  # another namespace: not seen
    api.put("/api/v1/pods", pod("a", "ns"), event="MODIFIED")
    api.bookmark("/api/v1/pods")
    api.remove("/api/v1/pods", "ns", "a")
    await asyncio.wait_for(task, 5)
    assert seen == [("ADDED", "a"), ("MODIFIED", "a"), ("BOOKMARK", ""), ("DELETED", "a")]
    query = next(r.query for r in api.requests if r.query.get("watch"))
    assert query == {
        "watch": "true",
        "resourceVersion": rv,
        "allowWatchBookmarks": "true",
        "timeoutSeconds": "30",
    }


async def test_watch_error_event_raises_gone(api: FakeApi, client: rest.Client) -> None:
    api.compacted = 150
    with pytest.raises(errors.Gone, match="too old resource version"):
        async for _ in client.watch(PODS, resource_version="120"):
            pass


async def test_watch_ends_when_the_server_closes(api: FakeApi, client: rest.Client) -> None:
    api.put("/api/v1/pods", pod("a", "ns"))

    async def collect() -> list[str]:
        return [ev.type async for ev in client.watch(PODS, resource_version="100")]

    task = asyncio.create_task(collect())
    await asyncio.sleep(0.05)
    api.end_watches()
    assert await asyncio.wait_for(task, 5) == ["ADDED"]


async def test_watch_refused_request_raises(api: FakeApi, client: rest.Client) -> None:
    api.fail_next(403, status(403, "Forbidden", "pods is forbidden"))
    with pytest.raises(errors.Forbidden):
        async for _ in client.watch(PODS):
            pass


async def _streaming_server(frames: list[bytes]) -> tuple[web.AppRunner, str]:
    async def handler(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse()
        await resp.prepare(request)
        for frame in frames:
            await resp.write(frame)
            await asyncio.sleep(0.001)
        return resp

    app = web.Application()
    app.router.add_get("/api/v1/pods", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"http://127.0.0.1:{port}"


async def test_watch_frames_split_across_chunks_and_large_objects() -> None:
    big = {"type": "ADDED", "object": {"metadata": {"name": "big"}, "data": {"x": "y" * 300_000}}}
    small = {"type": "MODIFIED", "object": {"metadata": {"name": "s"}}}
    raw = orjson.dumps(big) + b"\n" + orjson.dumps(small) + b"\n"
    pieces = [raw[i : i + 7000] for i in range(0, len(raw), 7000)]
    # a last frame without its newline is still delivered
    pieces.append(orjson.dumps({"type": "DELETED", "object": {"metadata": {"name": "s"}}}))
    runner, url = await _streaming_server(pieces)
    try:
        async with rest.Client(kubeconfig.Config(server=url)) as c:
            events = [ev async for ev in c.watch(PODS)]
    finally:
        await runner.cleanup()
    assert [e.type for e in events] == ["ADDED", "MODIFIED", "DELETED"]
    assert len(events[0].object["data"]["x"]) == 300_000


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        pytest.param(b"{nope\n", "not JSON", id="garbage"),
        pytest.param(b'{"type":"ADDED"}\n', "no object", id="no-object"),
        pytest.param(b'{"type":"WHAT","object":{}}\n', "invalid watch event type", id="bad-type"),
    ],
)
async def test_watch_bad_frames(frame: bytes, message: str) -> None:
    runner, url = await _streaming_server([frame])
    try:
        async with rest.Client(kubeconfig.Config(server=url)) as c:
            with pytest.raises(rest.DecodeError, match=message):
                async for _ in c.watch(PODS):
                    pass
    finally:
        await runner.cleanup()


async def test_discovery(api: FakeApi, client: rest.Client) -> None:
    api.resources["/apis/apps/v1"] = [
        {"name": "deployments", "namespaced": True, "kind": "Deployment"},
        {"name": "deployments/scale", "namespaced": True, "kind": "Scale"},
    ]
    api.resources["/api/v1"] = [{"name": "nodes", "namespaced": False, "kind": "Node"}]
    assert await client.resource_for("apps/v1", "Deployment") == DEPLOYMENTS
    assert await client.resource_for("v1", "Node") == NODES
    n = len(api.requests)
    assert await client.api_resources("apps/v1") == [DEPLOYMENTS]  # cached
    assert len(api.requests) == n
    with pytest.raises(errors.NotFound, match="Scale"):
        await client.resource_for("apps/v1", "Scale")


async def test_from_kubeconfig(api: FakeApi, tmp_path: Path) -> None:
    async with serving(api) as url:
        (tmp_path / "kc").write_text(
            f"""
current-context: x
clusters: [{{name: c, cluster: {{server: "{url}"}}}}]
users: [{{name: u, user: {{token: from-file}}}}]
contexts: [{{name: x, context: {{cluster: c, user: u, namespace: team}}}}]
"""
        )
        client = await rest.Client.from_kubeconfig(tmp_path / "kc")
        try:
            await client.create(PODS, pod("p"))
        finally:
            await client.close()
    assert api.requests[-1].path == "/api/v1/namespaces/team/pods"
    assert api.requests[-1].headers["Authorization"] == "Bearer from-file"


async def test_tls_with_client_certificate(api: FakeApi) -> None:
    ca, ca_cert, ca_key = certs.make_ca()
    server = certs.issue(ca_cert, ca_key, "kube-apiserver", server=True)
    user = certs.issue(ca_cert, ca_key, "alice", server=False, org="devs")
    wrong_ca, _, _ = certs.make_ca("other")

    def server_ctx() -> ssl.SSLContext:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cadata=ca.cert_pem.decode())
        ctx.verify_mode = ssl.CERT_REQUIRED
        with tempfile.TemporaryDirectory() as tmp:
            d = Path(tmp)
            (d / "s.crt").write_bytes(server.cert_pem)
            (d / "s.key").write_bytes(server.key_pem)
            ctx.load_cert_chain(d / "s.crt", d / "s.key")
        return ctx

    seen_peer: list[Any] = []
    original = api.handle

    async def handle(request: web.Request) -> web.StreamResponse:
        seen_peer.append(request.transport.get_extra_info("peercert"))  # type: ignore[union-attr]
        return await original(request)

    api.handle = handle  # type: ignore[method-assign]
    ctx = await asyncio.to_thread(server_ctx)
    async with serving(api, ssl_context=ctx) as url:
        cfg = kubeconfig.Config(
            server=url, ca_data=ca.cert_pem, cert_data=user.cert_pem, key_data=user.key_pem
        )
        async with rest.Client(cfg) as c:
            await c.list(PODS)
        subject = dict(x[0] for x in seen_peer[0]["subject"])
        assert subject == {"commonName": "alice", "organizationName": "devs"}

        untrusted = kubeconfig.Config(
            server=url, ca_data=wrong_ca.cert_pem, cert_data=user.cert_pem, key_data=user.key_pem
        )
        async with rest.Client(untrusted) as c:
            with pytest.raises(Exception, match="CERTIFICATE_VERIFY_FAILED"):
                await c.list(PODS)

        insecure = kubeconfig.Config(
            server=url,
            insecure_skip_tls_verify=True,
            cert_data=user.cert_pem,
            key_data=user.key_pem,
        )
        async with rest.Client(insecure) as c:
            await c.list(PODS)


def test_for_kind_reads_the_builtin_table() -> None:
    assert rest.for_kind("apps/v1", "Deployment") == DEPLOYMENTS
    assert rest.for_kind("v1", "Node") == NODES
    assert rest.for_kind("v1", "Pod") == PODS
    with pytest.raises(LookupError, match="Widget"):
        rest.for_kind("example.com/v1", "Widget")
