"""The etcd backend over https with client certificates, against a real etcd."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from pyk8s.storage import factory
from pyk8s.storage.etcd.backend import EtcdStorage
from pyk8s.storage.etcd.client import TLSFiles
from pyk8s.storage.interface import StorageUnavailableError
from tests.support import etcdserver
from tests.support.etcdserver import TLS, EtcdServer
from tests.unit.client import certs


@pytest.fixture(scope="module")
def tls_etcd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EtcdServer]:
    if etcdserver.binary() is None:
        pytest.skip("etcd is not installed (Debian etcd-server; `make deps` installs it)")
    d = tmp_path_factory.mktemp("etcd-tls")
    ca, ca_cert, ca_key = certs.make_ca("etcd-ca")
    server = certs.issue(ca_cert, ca_key, "etcd", server=True)
    client = certs.issue(ca_cert, ca_key, "pyk8s", server=False)
    files = {
        "ca.crt": ca.cert_pem,
        "server.crt": server.cert_pem,
        "server.key": server.key_pem,
        "client.crt": client.cert_pem,
        "client.key": client.key_pem,
    }
    for name, data in files.items():
        (d / name).write_bytes(data)
    tls = TLS(d / "ca.crt", d / "server.crt", d / "server.key", d / "client.crt", d / "client.key")
    with EtcdServer(tls=tls) as etcd:
        yield etcd


def config(etcd: EtcdServer, **files: Path | None) -> factory.StorageConfig:
    return factory.StorageConfig(datastore_endpoint=etcd.endpoint, etcd_prefix="/tls", **files)


async def test_https_with_client_certificate(tls_etcd: EtcdServer) -> None:
    assert tls_etcd.tls is not None
    store = await factory.open_storage(
        config(
            tls_etcd,
            datastore_cafile=tls_etcd.tls.ca,
            datastore_certfile=tls_etcd.tls.client_cert,
            datastore_keyfile=tls_etcd.tls.client_key,
        )
    )
    try:
        w = store.watch("/registry/")
        kv = await store.create("/registry/secrets/default/s", b"x")
        assert (await store.get(kv.key)).value == b"x"
        async for ev in w:
            assert ev.key == kv.key
            break
        await w.close()
        await store.delete(kv.key)
    finally:
        await store.close()


async def test_https_without_client_certificate_is_refused(tls_etcd: EtcdServer) -> None:
    assert tls_etcd.tls is not None
    with pytest.raises(StorageUnavailableError):
        await EtcdStorage.open(
            tls_etcd.endpoint,
            tls=TLSFiles(ca_file=tls_etcd.tls.ca),
            connect_timeout=2.0,
        )
