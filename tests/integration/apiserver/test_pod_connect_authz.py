"""``pods/exec``, ``pods/attach`` and ``pods/portforward`` need ``create`` as well as the verb
of the request (upstream's ``ensureAuthorizedForVerb``, kubernetes/kubernetes#133515): a
user granted only ``get`` on ``pods/exec`` cannot open an exec over WebSocket."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.apiserver.conftest import Client

ALICE = {"Authorization": "Bearer secret-token"}
WS = {"Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13",
      "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
      "Sec-WebSocket-Protocol": "v5.channel.k8s.io"}  # fmt: skip
SPDY = {"Connection": "Upgrade", "Upgrade": "SPDY/3.1",
        "X-Stream-Protocol-Version": "v4.channel.k8s.io"}  # fmt: skip
POD = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
       "spec": {"containers": [{"name": "c", "image": "busybox"}]}}  # fmt: skip
PATHS = {"exec": "?command=true&stdout=true", "attach": "?stdout=true",
         "portforward": "?ports=80"}  # fmt: skip


async def _grant(client: Client, sub: str, verbs: list[str]) -> None:
    role = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
            "metadata": {"name": f"r-{sub}"},
            "rules": [{"apiGroups": [""], "resources": [f"pods/{sub}"],
                       "verbs": verbs}]}  # fmt: skip
    rbac = "/apis/rbac.authorization.k8s.io/v1/namespaces/default"
    status, _ = await client.delete(f"{rbac}/roles/r-{sub}")
    status, body = await client.post(f"{rbac}/roles", role)
    assert status == 201, body
    binding = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
               "metadata": {"name": f"b-{sub}"},
               "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                           "name": f"r-{sub}"},
               "subjects": [{"kind": "User", "name": "alice",
                             "apiGroup": "rbac.authorization.k8s.io"}]}  # fmt: skip
    status, _ = await client.post(f"{rbac}/rolebindings", binding)
    assert status in (201, 409)


async def _connect(client: Client, sub: str, method: str) -> tuple[int, Any]:
    path = f"/api/v1/namespaces/default/pods/p/{sub}{PATHS[sub]}"
    upgrade = WS if method == "GET" else SPDY
    return await client.request(method, path, headers={**ALICE, **upgrade})


@pytest.mark.parametrize("sub", ["exec", "attach", "portforward"])
async def test_websocket_upgrade_needs_create_too(client: Client, sub: str) -> None:
    status, body = await client.post("/api/v1/namespaces/default/pods", POD)
    assert status == 201, body

    await _grant(client, sub, ["get"])
    status, body = await _connect(client, sub, "GET")
    assert status == 403, body
    assert body["reason"] == "Forbidden"
    assert body["message"].startswith('pods "p" is forbidden')
    assert body["details"] == {"name": "p", "kind": "pods"}

    # get and create: authorized; the unscheduled pod is what stops it now
    await _grant(client, sub, ["get", "create"])
    status, body = await _connect(client, sub, "GET")
    assert (status, body["message"]) == (400, "pod p does not have a host assigned")

    # create alone: a SPDY POST is authorized (as create) and goes on; a WebSocket GET is not
    await _grant(client, sub, ["create"])
    status, body = await _connect(client, sub, "POST")
    assert (status, body["message"]) == (400, "pod p does not have a host assigned")
    status, body = await _connect(client, sub, "GET")
    assert status == 403
    assert "cannot get resource" in body["message"], body
