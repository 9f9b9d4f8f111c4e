"""Client identities of the components ``pyk8s server`` runs as child processes.

As kubeadm's ``scheduler.conf`` and k3s' ``cred/scheduler.kubeconfig``: a client certificate
signed by the cluster CA with ``CN=system:kube-scheduler`` (the user the bootstrap RBAC
policy binds the ``system:kube-scheduler`` ClusterRole to), in a kubeconfig next to the
server's other credentials; the server address and CA are the admin kubeconfig's. Made on
first use, kept while valid, made again when it nears expiry or the CA changed.

Blocking (keys, files): call from a thread.
"""

from __future__ import annotations

import base64
import datetime
import os
from pathlib import Path

import yaml
from cryptography import x509
from cryptography.exceptions import InvalidSignature

from pyk8s.apiserver import kubeconfig, pki
from pyk8s.apiserver.settings import APIServerConfig


def cred_dir(api: APIServerConfig) -> Path:
    return api.data_dir / "server" / "cred"


def _valid(pair: pki.KeyPair, ca: pki.KeyPair, user: str) -> bool:
    if not (pair.cert_path.exists() and pair.key_path.exists()):
        return False
    cert = x509.load_pem_x509_certificate(pair.cert_pem())
    ca_cert = x509.load_pem_x509_certificate(ca.cert_pem())
    try:
        cert.verify_directly_issued_by(ca_cert)
    except (ValueError, TypeError, InvalidSignature):
        return False
    names = cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    expires = cert.not_valid_after_utc - pki.RENEW_BEFORE
    return bool(names) and names[0].value == user and expires > datetime.datetime.now(datetime.UTC)


def component_kubeconfig(api: APIServerConfig, component: str, user: str) -> Path:
    """``<data-dir>/server/cred/<component>.kubeconfig`` for ``user``; returns its path."""
    ca = pki.KeyPair(api.pki_dir / "ca.crt", api.pki_dir / "ca.key")
    pair = pki.KeyPair(api.pki_dir / f"{component}.crt", api.pki_dir / f"{component}.key")
    if not _valid(pair, ca, user):
        pki.make_leaf(pair, ca, cn=user, client=True)
    admin = yaml.safe_load(api.kubeconfig_path.read_text())
    cluster = admin["clusters"][0]
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [cluster],
        "users": [
            {
                "name": user,
                "user": {
                    "client-certificate-data": base64.b64encode(pair.cert_pem()).decode(),
                    "client-key-data": base64.b64encode(pair.key_pem()).decode(),
                },
            }
        ],
        "contexts": [{"name": user, "context": {"cluster": cluster["name"], "user": user}}],
        "current-context": user,
        "preferences": {},
    }
    path = cred_dir(api) / f"{component}.kubeconfig"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(kubeconfig.to_yaml(config).encode())
    os.replace(tmp, path)
    return path
