"""The child components' kubeconfigs: a client certificate of the cluster CA for the
component's user, the admin kubeconfig's server, kept while valid, replaced with the CA."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
import yaml
from cryptography import x509

from pyk8s.apiserver import kubeconfig, pki
from pyk8s.apiserver.settings import APIServerConfig
from pyk8s.cluster import credentials

pytestmark = pytest.mark.allow_blocking  # the module is blocking by design: no event loop


def _server(tmp_path: Path) -> APIServerConfig:
    api = APIServerConfig(data_dir=tmp_path)
    bundle = pki.ensure(api.pki_dir, service_ip="10.43.0.1")
    kubeconfig.write(api.kubeconfig_path, "https://127.0.0.1:16443", bundle)
    return api


def _cert(path: Path) -> x509.Certificate:
    cfg = yaml.safe_load(path.read_text())
    pem = base64.b64decode(cfg["users"][0]["user"]["client-certificate-data"])
    return x509.load_pem_x509_certificate(pem)


def test_a_client_certificate_for_the_component_user(tmp_path: Path) -> None:
    api = _server(tmp_path)
    path = credentials.component_kubeconfig(api, "scheduler", "system:kube-scheduler")
    assert path == tmp_path / "server" / "cred" / "scheduler.kubeconfig"
    assert path.stat().st_mode & 0o077 == 0
    cfg = yaml.safe_load(path.read_text())
    assert cfg["clusters"][0]["cluster"]["server"] == "https://127.0.0.1:16443"
    assert cfg["current-context"] == "system:kube-scheduler"
    cert = _cert(path)
    cn = cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value
    assert cn == "system:kube-scheduler"
    assert cert.subject.get_attributes_for_oid(x509.NameOID.ORGANIZATION_NAME) == []
    ca = x509.load_pem_x509_certificate((api.pki_dir / "ca.crt").read_bytes())
    cert.verify_directly_issued_by(ca)


def test_kept_while_valid_and_made_again_for_a_new_ca(tmp_path: Path) -> None:
    api = _server(tmp_path)
    first = _cert(credentials.component_kubeconfig(api, "scheduler", "system:kube-scheduler"))
    again = _cert(credentials.component_kubeconfig(api, "scheduler", "system:kube-scheduler"))
    assert again.serial_number == first.serial_number
    pki.make_ca(pki.KeyPair(api.pki_dir / "ca.crt", api.pki_dir / "ca.key"))
    renewed = _cert(credentials.component_kubeconfig(api, "scheduler", "system:kube-scheduler"))
    assert renewed.serial_number != first.serial_number
    ca = x509.load_pem_x509_certificate((api.pki_dir / "ca.crt").read_bytes())
    renewed.verify_directly_issued_by(ca)
