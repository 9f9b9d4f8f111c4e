"""Projected service-account tokens: asked for bound to the pod, cached, refreshed at 80%."""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any, cast

import pytest

from pyk8s.api import errors
from pyk8s.client import rest
from pyk8s.kubelet import token_manager
from pyk8s.kubelet.volumes.manager import VolumeError, VolumeManager

T0 = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)


def stamp(t: datetime.datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


class TokenAPI:
    """``create`` of ``serviceaccounts/token`` as the API server answers it."""

    def __init__(self, clock: list[datetime.datetime]) -> None:
        self.clock = clock
        self.requests: list[tuple[str, str, dict[str, Any]]] = []
        self.missing = False

    async def create(self, ref: Any, body: Any, namespace: str | None = None, **kw: Any) -> Any:
        assert (ref.plural, kw["subresource"]) == ("serviceaccounts", "token")
        if self.missing:
            raise errors.NotFound('serviceaccounts "default" not found')
        self.requests.append((str(namespace), kw["name"], body["spec"]))
        n = len(self.requests)
        exp = self.clock[0] + datetime.timedelta(seconds=body["spec"]["expirationSeconds"])
        return {
            "metadata": {"creationTimestamp": stamp(self.clock[0])},
            "status": {"token": f"token-{n}", "expirationTimestamp": stamp(exp)},
        }


def pod(**spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": "p", "namespace": "ns", "uid": "u1"}, "spec": spec}


def manager() -> tuple[token_manager.TokenManager, TokenAPI, list[datetime.datetime]]:
    clock = [T0]
    api = TokenAPI(clock)
    return token_manager.TokenManager(cast(rest.Interface, api), lambda: clock[0]), api, clock


async def test_bound_cached_and_refreshed_at_80_percent() -> None:
    m, api, clock = manager()
    source = {"expirationSeconds": 3607, "path": "token"}
    assert await m.token(pod(serviceAccountName="robot"), source) == "token-1"
    ns, account, spec = api.requests[0]
    assert (ns, account, spec["expirationSeconds"]) == ("ns", "robot", 3607)
    assert spec["boundObjectRef"] == {"kind": "Pod", "apiVersion": "v1", "name": "p", "uid": "u1"}
    assert "audiences" not in spec
    clock[0] = T0 + datetime.timedelta(seconds=2800)  # < 80% of 3607 s
    assert await m.token(pod(serviceAccountName="robot"), source) == "token-1"
    clock[0] = T0 + datetime.timedelta(seconds=2900)  # > 80%
    assert await m.token(pod(serviceAccountName="robot"), source) == "token-2"
    assert len(api.requests) == 2


async def test_audience_default_account_and_forget() -> None:
    m, api, _ = manager()
    await m.token(pod(), {"audience": "vault", "path": "t"})
    assert api.requests[0][1] == "default"
    assert api.requests[0][2]["audiences"] == ["vault"]
    assert api.requests[0][2]["expirationSeconds"] == 3600
    m.forget("u1")
    await m.token(pod(), {"audience": "vault", "path": "t"})
    assert len(api.requests) == 2


def read(d: Path) -> dict[str, str]:
    return {p.name: p.read_text() for p in d.iterdir() if not p.name.startswith("..")}


async def test_projected_volume_writes_token_ca_and_namespace(tmp_path: Path) -> None:
    m, api, _ = manager()

    async def get(kind: str, ns: str, name: str) -> dict[str, Any]:
        assert (kind, ns, name) == ("ConfigMap", "ns", "kube-root-ca.crt")
        return {"data": {"ca.crt": "CERT"}}

    vm = VolumeManager(tmp_path, get, m)
    vol = {"name": "kube-api-access-abcde", "projected": {"defaultMode": 0o644, "sources": [
        {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
        {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
        {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {
            "apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}},
    ]}}  # fmt: skip
    paths = await vm.setup(pod(volumes=[vol]), "10.0.0.1", [], {})
    files = read(Path(paths["kube-api-access-abcde"]))
    assert files == {"token": "token-1", "ca.crt": "CERT", "namespace": "ns"}
    api.missing = True
    m.forget("u1")
    with pytest.raises(VolumeError, match="failed to fetch token"):
        await vm.setup(pod(volumes=[vol]), "10.0.0.1", [], {})
