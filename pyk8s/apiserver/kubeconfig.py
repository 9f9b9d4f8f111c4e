"""Writes the admin kubeconfig (cluster ``kubernetes``, user ``kubernetes-admin``,
context ``kubernetes-admin@kubernetes``), as kubeadm's ``admin.conf`` names them.

Blocking file I/O: call from a thread. The YAML is written by :func:`to_yaml` (block style,
every string double-quoted with JSON escapes, which YAML reads the same), so that the
server does not import PyYAML to start.
"""

from __future__ import annotations

import base64
import json
import os
import re
from pathlib import Path
from typing import Any

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


_PLAIN = re.compile(r"[A-Za-z][A-Za-z0-9_-]*")
_SPECIAL = frozenset({"y", "n", "yes", "no", "on", "off", "true", "false", "null"})


def to_yaml(value: Any, indent: int = 0) -> str:
    """Block-style YAML for dicts, lists and str/int/bool/None scalars."""
    pad = " " * indent
    if isinstance(value, dict):
        if not value:
            return "{}\n"
        out = []
        for k, v in value.items():
            key = (
                str(k)
                if _PLAIN.fullmatch(str(k)) and str(k).lower() not in _SPECIAL
                else json.dumps(str(k))
            )
            if isinstance(v, dict | list) and v:
                out.append(f"{pad}{key}:\n{to_yaml(v, indent + 2)}")
            else:
                out.append(f"{pad}{key}: {to_yaml(v)}")
        return "".join(out)
    if isinstance(value, list):
        if not value:
            return "[]\n"
        out = []
        for item in value:
            body = to_yaml(item, indent + 2)
            out.append(f"{pad}- {body[indent + 2 :]}" if isinstance(item, dict | list) and item
                       else f"{pad}- {body}")  # fmt: skip
        return "".join(out)
    return json.dumps(value) + "\n"


def write(path: Path, server_url: str, bundle: pki.Bundle) -> None:
    data = to_yaml(render(server_url, bundle)).encode()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp, path)
