"""A registry behind TLS with its own CA: trusted through registries.yaml ``configs.tls``."""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from pyk8s.images import archive, distribution, pull, registries
from pyk8s.images import store as store_mod
from tests.e2e.images.registry_fixture import PASSWORD, USER, docker_registry

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]


def make_pki(tmp: Path) -> tuple[Path, Path, Path]:
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test-ca")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    san = x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))])
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "registry")]))
        .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=1))
        .add_extension(san, critical=False)
        .sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    paths = tmp / "ca.pem", tmp / "server.pem", tmp / "server.key"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return paths


async def test_tls_registry_with_a_private_ca(
    image_tarball: Callable[[str], Path], tmp_path: Path
) -> None:
    ca, cert, key = await asyncio.to_thread(make_pki, tmp_path)
    src = await asyncio.to_thread(store_mod.Store, tmp_path / "src")
    await asyncio.to_thread(archive.import_archive, src, image_tarball("busybox"))
    with docker_registry(tmp_path / "registry", tls=(cert, key)) as reg:
        trusted = registries.Registries.parse(
            {
                "configs": {
                    reg.host: {
                        "tls": {"ca_file": str(ca)},
                        "auth": {"username": USER, "password": PASSWORD},
                    }
                }
            }
        )
        async with distribution.Client(trusted) as c:
            digest = await pull.push(src, c, "busybox", f"{reg.host}/lib/bb:tls")
        dest = await asyncio.to_thread(store_mod.Store, tmp_path / "dest")
        async with distribution.Client(trusted) as c:
            image = await pull.pull(dest, c, f"{reg.host}/lib/bb:tls")
        assert image.manifest_digest == digest
        untrusted = registries.Registries.parse(
            {"configs": {reg.host: {"auth": {"username": USER, "password": PASSWORD}}}}
        )
        async with distribution.Client(untrusted) as c:
            with pytest.raises(pull.PullError):
                await pull.pull(dest, c, f"{reg.host}/lib/bb:tls")
        skip_verify = registries.Registries.parse(
            {
                "configs": {
                    "*": {
                        "tls": {"insecure_skip_verify": True},
                        "auth": {"username": USER, "password": PASSWORD},
                    }
                }
            }
        )
        async with distribution.Client(skip_verify) as c:
            assert (await pull.pull(dest, c, f"{reg.host}/lib/bb:tls")).manifest_digest == digest


async def test_pyk8s_registry_over_tls(
    image_tarball: Callable[[str], Path], tmp_path: Path
) -> None:
    from pyk8s.images import registry
    from tests.e2e.images.registry_fixture import free_port

    ca, cert, key = await asyncio.to_thread(make_pki, tmp_path)
    served = await asyncio.to_thread(store_mod.Store, tmp_path / "served")
    await asyncio.to_thread(archive.import_archive, served, image_tarball("busybox"))
    port = free_port()
    ready = asyncio.Event()
    task = asyncio.create_task(
        registry.serve(served, "127.0.0.1", port, ready=ready, tls=(cert, key))
    )
    await asyncio.wait_for(ready.wait(), 30)
    try:
        host = f"127.0.0.1:{port}"
        trusted = registries.Registries.parse({"configs": {host: {"tls": {"ca_file": str(ca)}}}})
        dest = await asyncio.to_thread(store_mod.Store, tmp_path / "dest")
        async with distribution.Client(trusted) as c:
            image = await pull.pull(dest, c, f"{host}/busybox")
        assert image.id == (await asyncio.to_thread(served.resolve, "busybox")).id
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
