from __future__ import annotations

from pathlib import Path

import yaml
from cryptography import x509
from cryptography.x509.oid import NameOID

from pyk8s.apiserver import kubeconfig, pki


def test_ensure_makes_and_reuses(tmp_path: Path) -> None:
    b = pki.ensure(tmp_path, service_ip="10.43.0.1")
    admin = x509.load_pem_x509_certificate(b.admin.cert_pem())
    assert admin.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "kubernetes-admin"
    assert (
        admin.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "system:masters"
    )
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    pki.ensure(tmp_path, service_ip="10.43.0.1")
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before
    # A new name re-issues only the serving certificate, by the same CA.
    pki.ensure(tmp_path, service_ip="10.43.0.1", extra_sans=["api.example.com"])
    after = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    assert after["ca.crt"] == before["ca.crt"] and after["admin.crt"] == before["admin.crt"]
    assert after["apiserver.crt"] != before["apiserver.crt"]
    assert (tmp_path / "ca.key").stat().st_mode & 0o777 == 0o600


def test_kubeconfig_names(tmp_path: Path) -> None:
    b = pki.ensure(tmp_path / "tls", service_ip="10.43.0.1")
    doc = kubeconfig.render("https://127.0.0.1:6443", b)
    assert doc["current-context"] == "kubernetes-admin@kubernetes"
    assert doc["contexts"][0]["context"] == {"cluster": "kubernetes", "user": "kubernetes-admin"}


def test_kubeconfig_yaml_reads_back(tmp_path: Path) -> None:
    b = pki.ensure(tmp_path / "tls", service_ip="10.43.0.1")
    path = tmp_path / "kubeconfig.yaml"
    kubeconfig.write(path, "https://127.0.0.1:6443", b)
    assert yaml.safe_load(path.read_text()) == kubeconfig.render("https://127.0.0.1:6443", b)
    odd = {"y": [[1, "on"], {"a": []}], "k": None, "s": 'a"b:\n#c', "e": {}, "t": True}
    assert yaml.safe_load(kubeconfig.to_yaml(odd)) == odd
