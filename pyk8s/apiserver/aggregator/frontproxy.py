"""The front-proxy identity the aggregator proxies with, and where extension servers learn it.

What kube-apiserver's ``--requestheader-client-ca-file`` / ``--proxy-client-cert-file`` pair
is, made as k3s makes it (``pkg/daemons/control/deps/deps.go``: ``request-header-ca.crt`` and
``client-auth-proxy.crt`` with ``CN=system:auth-proxy``): a CA of its own that signs only the
proxy's client certificate, so that an extension server trusting that CA trusts the
``X-Remote-User`` headers of nobody else. The ``kube-system/extension-apiserver-authentication``
ConfigMap publishes both CAs and the header names, as upstream's
``pkg/controlplane/controller/clusterauthenticationtrust`` does; extension servers (our
metrics-server too) read it through the API.

Everything here blocks (key generation, files): call it from a thread.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pyk8s.apiserver import pki

ALLOWED_NAME = "system:auth-proxy"
USERNAME_HEADERS = ("X-Remote-User",)
UID_HEADERS = ("X-Remote-Uid",)
GROUP_HEADERS = ("X-Remote-Group",)
EXTRA_HEADERS_PREFIX = ("X-Remote-Extra-",)
CONFIGMAP_NAMESPACE = "kube-system"
CONFIGMAP_NAME = "extension-apiserver-authentication"


@dataclass(frozen=True)
class FrontProxy:
    ca: pki.KeyPair
    client: pki.KeyPair


def ensure(pki_dir: Path) -> FrontProxy:
    """Make the request-header CA and the proxy's client certificate if missing."""
    fp = FrontProxy(
        ca=pki.KeyPair(pki_dir / "request-header-ca.crt", pki_dir / "request-header-ca.key"),
        client=pki.KeyPair(pki_dir / "client-auth-proxy.crt", pki_dir / "client-auth-proxy.key"),
    )
    new_ca = not (fp.ca.cert_path.exists() and fp.ca.key_path.exists())
    if new_ca:
        pki.make_ca(fp.ca, cn="pyk8s-request-header-ca")
    if new_ca or not (fp.client.cert_path.exists() and fp.client.key_path.exists()):
        pki.make_leaf(fp.client, fp.ca, cn=ALLOWED_NAME, client=True)
    return fp


def authentication_configmap(client_ca_pem: str, request_header_ca_pem: str) -> dict[str, Any]:
    """``kube-system/extension-apiserver-authentication``, as upstream writes it (JSON lists)."""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": CONFIGMAP_NAME, "namespace": CONFIGMAP_NAMESPACE},
        "data": {
            "client-ca-file": client_ca_pem,
            "requestheader-client-ca-file": request_header_ca_pem,
            "requestheader-allowed-names": json.dumps([ALLOWED_NAME]),
            "requestheader-username-headers": json.dumps(list(USERNAME_HEADERS)),
            "requestheader-uid-headers": json.dumps(list(UID_HEADERS)),
            "requestheader-group-headers": json.dumps(list(GROUP_HEADERS)),
            "requestheader-extra-headers-prefix": json.dumps(list(EXTRA_HEADERS_PREFIX)),
        },
    }
