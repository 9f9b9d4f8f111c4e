"""Writes the admin kubeconfig (cluster ``kubernetes``, user ``kubernetes-admin``,
context ``kubernetes-admin@kubernetes``), as kubeadm's ``admin.conf`` names them.

Blocking file I/O: call from a thread.
"""

from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import Any

import yaml

from pyk8s.apiserver import pki

CLUSTER = "kubernetes"
USER = "kubernetes-admin"
CONTEXT = f"{USER}@{CLUSTER}"


def render(server_url: str, bundle: pki.Bundle) -> dict[str, Any]:
    def b64(data: bytes) -> str:
        return base64.b64encode(data).decode()

    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": CLUSTER,
                "cluster": {
                    "server": server_url,
                    "certificate-authority-data": b64(bundle.ca.cert_pem()),
                },
            }
        ],
        "users": [
            {
                "name": USER,
                "user": {
                    "client-certificate-data": b64(bundle.admin.cert_pem()),
                    "client-key-data": b64(bundle.admin.key_pem()),
                },
            }
        ],
        "contexts": [{"name": CONTEXT, "context": {"cluster": CLUSTER, "user": USER}}],
        "current-context": CONTEXT,
        "preferences": {},
    }


def write(path: Path, server_url: str, bundle: pki.Bundle) -> None:
    data = yaml.safe_dump(render(server_url, bundle), sort_keys=False).encode()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp, path)
