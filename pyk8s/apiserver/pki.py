"""The cluster's certificates, made on first start and reused afterwards.

What kubeadm (``cmd/kubeadm/app/phases/certs``) and k3s
(``pkg/daemons/control/deps/deps.go``) make, reduced to what the API server
needs now: a CA, the API server's serving certificate (SANs for every name a
client may use, including ``kubernetes.default.svc.<domain>`` and the first
service IP) and the admin's client certificate (``CN=kubernetes-admin``,
``O=system:masters``). Keys are ECDSA P-256, as k3s uses.

Everything here blocks (key generation, files): call it from a thread.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import socket
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_VALIDITY = datetime.timedelta(days=3650)
LEAF_VALIDITY = datetime.timedelta(days=365)
RENEW_BEFORE = datetime.timedelta(days=90)

_IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True)
class KeyPair:
    cert_path: Path
    key_path: Path

    def cert_pem(self) -> bytes:
        return self.cert_path.read_bytes()

    def key_pem(self) -> bytes:
        return self.key_path.read_bytes()


@dataclass(frozen=True)
class Bundle:
    """The files of one server's PKI."""

    ca: KeyPair
    serving: KeyPair
    admin: KeyPair


def _new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )


def _write(path: Path, data: bytes, mode: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def _name(cn: str, orgs: tuple[str, ...] = ()) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in orgs]
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, cn))
    return x509.Name(attrs)


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def make_ca(pair: KeyPair, cn: str = "pyk8s-ca") -> None:
    key = _new_key()
    now = _now()
    name = _name(cn)
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + CA_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=True,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(ski, critical=False)
        .sign(key, hashes.SHA256())
    )
    _write(pair.key_path, _key_pem(key), 0o600)
    _write(pair.cert_path, cert.public_bytes(serialization.Encoding.PEM), 0o644)


def _load_ca(pair: KeyPair) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    cert = x509.load_pem_x509_certificate(pair.cert_pem())
    key = serialization.load_pem_private_key(pair.key_pem(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ValueError(f"{pair.key_path}: expected an ECDSA key")
    return cert, key


def make_leaf(
    pair: KeyPair,
    ca: KeyPair,
    *,
    cn: str,
    orgs: tuple[str, ...] = (),
    server: bool = False,
    client: bool = False,
    dns_names: tuple[str, ...] = (),
    ips: tuple[_IPAddress, ...] = (),
) -> None:
    ca_cert, ca_key = _load_ca(ca)
    key = _new_key()
    now = _now()
    usages = []
    if server:
        usages.append(ExtendedKeyUsageOID.SERVER_AUTH)
    if client:
        usages.append(ExtendedKeyUsageOID.CLIENT_AUTH)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(cn, orgs))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + LEAF_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=True,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
    )
    if dns_names or ips:
        sans: list[x509.GeneralName] = [x509.DNSName(n) for n in dns_names]
        sans += [x509.IPAddress(ip) for ip in ips]
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    cert = builder.sign(ca_key, hashes.SHA256())
    _write(pair.key_path, _key_pem(key), 0o600)
    _write(pair.cert_path, cert.public_bytes(serialization.Encoding.PEM), 0o644)


def serving_sans(
    *, service_ip: str, cluster_domain: str, bind_address: str, extra: list[str]
) -> tuple[tuple[str, ...], tuple[_IPAddress, ...]]:
    """DNS names and IPs the serving certificate must hold."""
    hostname = socket.gethostname()
    dns = [
        "localhost",
        hostname,
        "kubernetes",
        "kubernetes.default",
        "kubernetes.default.svc",
        f"kubernetes.default.svc.{cluster_domain}",
    ]
    ip_strs = ["127.0.0.1", "::1", service_ip]
    for addr in [bind_address, *_node_ips(), *extra]:
        if not addr or addr in ("0.0.0.0", "::"):
            continue
        try:
            ipaddress.ip_address(addr)
        except ValueError:
            dns.append(addr)
        else:
            ip_strs.append(addr)
    dns_out = tuple(dict.fromkeys(d for d in dns if d))
    ips_out = tuple(dict.fromkeys(ipaddress.ip_address(i) for i in ip_strs))
    return dns_out, ips_out


def _node_ips() -> list[str]:
    """The addresses of the default route's interface, as the node IP (best effort)."""
    out: list[str] = []
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("10.255.255.255", 1))  # no packet is sent for UDP connect
            out.append(s.getsockname()[0])
    except OSError:
        pass
    return out


def _cert_sans(path: Path) -> tuple[set[str], set[str]]:
    cert = x509.load_pem_x509_certificate(path.read_bytes())
    try:
        ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return set(), set()
    return (
        set(ext.get_values_for_type(x509.DNSName)),
        {str(i) for i in ext.get_values_for_type(x509.IPAddress)},
    )


def _needs_renewal(path: Path) -> bool:
    cert = x509.load_pem_x509_certificate(path.read_bytes())
    return cert.not_valid_after_utc - _now() < RENEW_BEFORE


def ensure(
    pki_dir: Path,
    *,
    service_ip: str,
    cluster_domain: str = "cluster.local",
    bind_address: str = "0.0.0.0",
    extra_sans: list[str] | None = None,
) -> Bundle:
    """Make whatever is missing; keep what exists. The serving certificate is
    re-issued (by the same CA) when it lacks a needed name or is about to expire."""
    bundle = Bundle(
        ca=KeyPair(pki_dir / "ca.crt", pki_dir / "ca.key"),
        serving=KeyPair(pki_dir / "apiserver.crt", pki_dir / "apiserver.key"),
        admin=KeyPair(pki_dir / "admin.crt", pki_dir / "admin.key"),
    )
    new_ca = not (bundle.ca.cert_path.exists() and bundle.ca.key_path.exists())
    if new_ca:
        make_ca(bundle.ca)
    dns, ips = serving_sans(
        service_ip=service_ip,
        cluster_domain=cluster_domain,
        bind_address=bind_address,
        extra=extra_sans or [],
    )
    serving_ok = (
        not new_ca
        and bundle.serving.cert_path.exists()
        and bundle.serving.key_path.exists()
        and not _needs_renewal(bundle.serving.cert_path)
    )
    if serving_ok:
        have_dns, have_ips = _cert_sans(bundle.serving.cert_path)
        serving_ok = set(dns) <= have_dns and {str(i) for i in ips} <= have_ips
    if not serving_ok:
        make_leaf(
            bundle.serving, bundle.ca, cn="kube-apiserver", server=True, dns_names=dns, ips=ips
        )
    admin_ok = (
        not new_ca
        and bundle.admin.cert_path.exists()
        and bundle.admin.key_path.exists()
        and not _needs_renewal(bundle.admin.cert_path)
    )
    if not admin_ok:
        make_leaf(
            bundle.admin, bundle.ca, cn="kubernetes-admin", orgs=("system:masters",), client=True
        )
    return bundle
