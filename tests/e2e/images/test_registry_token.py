"""Bearer-token auth as Docker Hub does it: docker-registry with ``auth: token`` and a token
server (here, in the test) that signs JWTs with a certificate the registry trusts."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import json
import secrets
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from pyk8s.images import archive, distribution, pull, registries
from pyk8s.images import store as store_mod
from tests.e2e.images.registry_fixture import docker_registry, free_port

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]
SERVICE, ISSUER = "test-registry", "test-issuer"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class TokenServer:
    def __init__(self, tmp: Path, user: str, password: str) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "token-signer")])
        now = dt.datetime.now(dt.UTC)
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=1))
            .sign(self.key, hashes.SHA256())
        )
        self.bundle = tmp / "token-ca.pem"
        self.bundle.write_bytes(self.cert.public_bytes(serialization.Encoding.PEM))
        self.user, self.password = user, password
        self.scopes: list[str] = []

    def token(self, scopes: list[str]) -> str:
        header = {
            "typ": "JWT",
            "alg": "RS256",
            "x5c": [base64.b64encode(self.cert.public_bytes(serialization.Encoding.DER)).decode()],
        }
        access = []
        for scope in scopes:
            kind, name, actions = scope.split(":")
            access.append({"type": kind, "name": name, "actions": actions.split(",")})
        now = int(time.time())
        claims = {
            "iss": ISSUER,
            "sub": self.user,
            "aud": SERVICE,
            "exp": now + 300,
            "nbf": now - 10,
            "iat": now,
            "jti": secrets.token_hex(8),
            "access": access,
        }
        signing = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"
        sig = self.key.sign(signing.encode(), padding.PKCS1v15(), hashes.SHA256())
        return f"{signing}.{b64(sig)}"

    async def handle(self, request: web.Request) -> web.Response:
        want = "Basic " + base64.b64encode(f"{self.user}:{self.password}".encode()).decode()
        if request.headers.get("Authorization") != want:
            return web.json_response({"details": "bad credentials"}, status=401)
        assert request.query.get("service") == SERVICE
        scopes = request.query.getall("scope", [])
        self.scopes.extend(scopes)
        return web.json_response({"token": self.token(scopes), "expires_in": 300})


@pytest.fixture
async def token_server(tmp_path: Path) -> AsyncIterator[tuple[TokenServer, str]]:
    ts = await asyncio.to_thread(TokenServer, tmp_path, "carol", "tok3n")
    app = web.Application()
    app.router.add_get("/token", ts.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield ts, f"http://127.0.0.1:{port}/token"
    finally:
        await runner.cleanup()


async def test_push_and_pull_with_bearer_tokens(
    token_server: tuple[TokenServer, str], image_tarball: Callable[[str], Path], tmp_path: Path
) -> None:
    ts, realm = token_server
    token_cfg = {
        "realm": realm,
        "service": SERVICE,
        "issuer": ISSUER,
        "rootcertbundle": str(ts.bundle),
    }
    src = await asyncio.to_thread(store_mod.Store, tmp_path / "src")
    await asyncio.to_thread(archive.import_archive, src, image_tarball("busybox"))
    with docker_registry(tmp_path / "registry", auth="token", token=token_cfg) as reg:
        creds = {reg.host: registries.Auth("carol", "tok3n")}
        async with distribution.Client(credentials=creds) as c:
            digest = await pull.push(src, c, "busybox", f"{reg.host}/team/bb:1")
        dest = await asyncio.to_thread(store_mod.Store, tmp_path / "dest")
        async with distribution.Client(credentials=creds) as c:
            image = await pull.pull(dest, c, f"{reg.host}/team/bb:1")
        assert image.manifest_digest == digest
        assert "repository:team/bb:pull,push" in ts.scopes
        assert "repository:team/bb:pull" in ts.scopes
        async with distribution.Client(
            credentials={reg.host: registries.Auth("carol", "nope")}
        ) as c:
            with pytest.raises(pull.PullError, match=r"token server .* refused"):
                await pull.pull(dest, c, f"{reg.host}/team/bb:1")
