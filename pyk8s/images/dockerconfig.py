"""Registry logins in docker's ``config.json`` (``$DOCKER_CONFIG/config.json`` or
``~/.docker/config.json``), so ``pyk8s image login`` and ``docker login`` share them, and
the same ``auths`` format as a ``kubernetes.io/dockerconfigjson`` pull secret. Mirrors
docker/cli ``cli/config/configfile/file.go`` (``auths``, base64 ``user:password``, Docker Hub
under ``https://index.docker.io/v1/``).
"""

from __future__ import annotations

import base64
import os
import tempfile
from pathlib import Path
from typing import Any

import orjson

from pyk8s.images import reference, registries

HUB_KEY = "https://index.docker.io/v1/"


def path() -> Path:
    base = os.environ.get("DOCKER_CONFIG")
    return Path(base) / "config.json" if base else Path.home() / ".docker" / "config.json"


def parse(data: bytes) -> dict[str, registries.Auth]:
    """Credentials per registry host from ``{"auths": {server: {auth | username, password}}}``."""
    doc = orjson.loads(data)
    auths = doc.get("auths", doc) if isinstance(doc, dict) else {}
    out: dict[str, registries.Auth] = {}
    for server, entry in auths.items():
        if not isinstance(entry, dict):
            continue
        user, password = str(entry.get("username", "")), str(entry.get("password", ""))
        if entry.get("auth"):
            user, _, password = base64.b64decode(str(entry["auth"])).decode().partition(":")
        out[host_key(server)] = registries.Auth(user, password, str(entry.get("identitytoken", "")))
    return out


def host_key(server: str) -> str:
    host = server.split("://", 1)[-1].split("/", 1)[0]
    return reference.DEFAULT_DOMAIN if host in ("index.docker.io", "registry-1.docker.io") else host


def load(file: Path | None = None) -> dict[str, registries.Auth]:
    try:
        return parse((file or path()).read_bytes())
    except (FileNotFoundError, orjson.JSONDecodeError):
        return {}


def _read(file: Path) -> dict[str, Any]:
    try:
        doc = orjson.loads(file.read_bytes())
    except (FileNotFoundError, orjson.JSONDecodeError):
        return {}
    return doc if isinstance(doc, dict) else {}


def _write(file: Path, doc: dict[str, Any]) -> None:
    file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(prefix=".config-", dir=file.parent)
    with os.fdopen(fd, "wb") as f:
        f.write(orjson.dumps(doc, option=orjson.OPT_INDENT_2))
    os.chmod(tmp, 0o600)
    os.replace(tmp, file)


def _server_key(host: str) -> str:
    return HUB_KEY if host == reference.DEFAULT_DOMAIN else host


def save(host: str, user: str, password: str, file: Path | None = None) -> None:
    file = file or path()
    doc = _read(file)
    auths = doc.setdefault("auths", {})
    for k in [k for k in auths if host_key(k) == host]:
        del auths[k]
    auths[_server_key(host)] = {"auth": base64.b64encode(f"{user}:{password}".encode()).decode()}
    _write(file, doc)


def remove(host: str, file: Path | None = None) -> bool:
    file = file or path()
    doc = _read(file)
    auths = doc.get("auths", {})
    gone = [k for k in auths if host_key(k) == host]
    for k in gone:
        del auths[k]
    if gone:
        _write(file, doc)
    return bool(gone)
