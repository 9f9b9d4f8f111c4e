"""Where the cluster is and who we are: kubeconfig files and in-cluster service accounts.

Mirrors k8s.io/client-go/tools/clientcmd (``loader.go``: ``KUBECONFIG`` lists
several files, the first to set a value wins, relative paths are relative to the
file that names them; ``client_config.go``: the current context picks a cluster,
a user and a namespace) and ``rest.InClusterConfig`` (``KUBERNETES_SERVICE_HOST``
and ``_PORT``, the token and CA under ``/var/run/secrets/kubernetes.io/serviceaccount``).

Loading reads files, so the ``load_*`` functions are synchronous and the async
entry point :func:`load` runs them in a thread.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import ipaddress
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

SERVICE_ACCOUNT_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")


class ConfigError(Exception):
    """The kubeconfig (or in-cluster environment) does not describe a usable cluster."""


@dataclass
class Config:
    """Everything needed to open a connection to one API server as one user."""

    server: str
    ca_data: bytes | None = None
    """PEM bundle to trust; ``None`` means the system's trust store."""
    cert_data: bytes | None = None
    key_data: bytes | None = None
    token: str | None = None
    token_file: str | None = None
    """Re-read periodically: projected service-account tokens rotate."""
    username: str | None = None
    password: str | None = None
    insecure_skip_tls_verify: bool = False
    tls_server_name: str | None = None
    namespace: str = "default"
    context: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


# -- kubeconfig files -----------------------------------------------------------


def default_paths() -> list[Path]:
    """``$KUBECONFIG`` (``:``-separated) or ``~/.kube/config``."""
    env = os.environ.get("KUBECONFIG", "")
    if env:
        return [Path(p).expanduser() for p in env.split(os.pathsep) if p]
    return [Path.home() / ".kube" / "config"]


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text()
    except OSError as e:
        raise ConfigError(f"cannot read kubeconfig {path}: {e.strerror or e}") from e
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as e:
        raise ConfigError(f"kubeconfig {path} is not valid YAML: {e}") from e
    if not isinstance(data, dict):
        raise ConfigError(f"kubeconfig {path} is not a mapping")
    return data


def _resolve(base: Path, value: Any) -> Any:
    if isinstance(value, str) and value and not os.path.isabs(value):
        return str(base / value)
    return value


_PATH_FIELDS = {
    "cluster": ("certificate-authority",),
    "user": ("client-certificate", "client-key", "tokenFile"),
}


def merge(files: list[tuple[Path, dict[str, Any]]]) -> dict[str, Any]:
    """Merge kubeconfig documents as kubectl does: the first file to set a value wins."""
    merged: dict[str, Any] = {"clusters": {}, "users": {}, "contexts": {}, "current-context": ""}
    for path, doc in files:
        base = path.parent
        if not merged["current-context"] and doc.get("current-context"):
            merged["current-context"] = doc["current-context"]
        for section, inner in (("clusters", "cluster"), ("users", "user"), ("contexts", "context")):
            for entry in doc.get(section) or []:
                if not isinstance(entry, dict) or "name" not in entry:
                    raise ConfigError(f"kubeconfig {path}: an entry of {section} has no name")
                if entry["name"] in merged[section]:
                    continue
                body = dict(entry.get(inner) or {})
                for key in _PATH_FIELDS.get(inner, ()):
                    if key in body:
                        body[key] = _resolve(base, body[key])
                merged[section][entry["name"]] = body
    return merged


def load_kubeconfig(
    paths: list[Path] | Path | str | None = None, context: str | None = None
) -> Config:
    """Read kubeconfig file(s) and build the :class:`Config` of ``context`` (or the current one)."""
    if paths is None:
        paths = default_paths()
    elif isinstance(paths, str | Path):
        paths = [Path(paths)]
    docs = [(p, _read_yaml(p)) for p in paths if p.exists()]
    if not docs:
        raise ConfigError(f"no kubeconfig found at {', '.join(map(str, paths))}")
    merged = merge(docs)
    name = context or merged["current-context"]
    if not name:
        raise ConfigError("kubeconfig has no current-context and none was given")
    ctx = merged["contexts"].get(name)
    if ctx is None:
        raise ConfigError(f'context "{name}" does not exist in the kubeconfig')
    cluster = merged["clusters"].get(ctx.get("cluster", ""))
    if cluster is None:
        raise ConfigError(f'context "{name}": cluster "{ctx.get("cluster", "")}" does not exist')
    user = merged["users"].get(ctx.get("user", ""), {}) if ctx.get("user") else {}
    if ctx.get("user") and ctx["user"] not in merged["users"]:
        raise ConfigError(f'context "{name}": user "{ctx["user"]}" does not exist')
    return _build(name, ctx, cluster, user)


def _data(section: dict[str, Any], data_key: str, file_key: str, what: str) -> bytes | None:
    if section.get(data_key):
        try:
            return base64.b64decode(section[data_key], validate=True)
        except (binascii.Error, ValueError) as e:
            raise ConfigError(f"{data_key} is not valid base64: {e}") from e
    if section.get(file_key):
        try:
            return Path(section[file_key]).read_bytes()
        except OSError as e:
            raise ConfigError(f"cannot read {what} {section[file_key]}: {e.strerror}") from e
    return None


def _build(name: str, ctx: dict[str, Any], cluster: dict[str, Any], user: dict[str, Any]) -> Config:
    server = cluster.get("server")
    if not server:
        raise ConfigError(f'context "{name}": the cluster has no server')
    if "exec" in user or "auth-provider" in user:
        raise ConfigError(f'context "{name}": exec and auth-provider credentials are not supported')
    cert = _data(user, "client-certificate-data", "client-certificate", "client certificate")
    key = _data(user, "client-key-data", "client-key", "client key")
    if (cert is None) != (key is None):
        raise ConfigError(f'context "{name}": a client certificate needs both cert and key')
    return Config(
        server=str(server).rstrip("/"),
        ca_data=_data(cluster, "certificate-authority-data", "certificate-authority", "CA"),
        cert_data=cert,
        key_data=key,
        token=user.get("token") or None,
        token_file=user.get("tokenFile") or None,
        username=user.get("username") or None,
        password=user.get("password") or None,
        insecure_skip_tls_verify=bool(cluster.get("insecure-skip-tls-verify", False)),
        tls_server_name=cluster.get("tls-server-name") or None,
        namespace=ctx.get("namespace") or "default",
        context=name,
    )


# -- in-cluster -------------------------------------------------------------------


def load_in_cluster(
    environ: dict[str, str] | None = None, sa_dir: Path = SERVICE_ACCOUNT_DIR
) -> Config:
    """The service account a pod runs as (``rest.InClusterConfig``)."""
    env = os.environ if environ is None else environ
    host = env.get("KUBERNETES_SERVICE_HOST", "")
    port = env.get("KUBERNETES_SERVICE_PORT", "")
    if not host or not port:
        raise ConfigError(
            "not in a cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be set"
        )
    token_path = sa_dir / "token"
    if not token_path.exists():
        raise ConfigError(f"not in a cluster: {token_path} does not exist")
    try:
        ipaddress.IPv6Address(host)
        host = f"[{host}]"
    except ValueError:
        pass
    ca_path = sa_dir / "ca.crt"
    ns_path = sa_dir / "namespace"
    namespace = ns_path.read_text().strip() if ns_path.exists() else "default"
    return Config(
        server=f"https://{host}:{port}",
        ca_data=ca_path.read_bytes() if ca_path.exists() else None,
        token_file=str(token_path),
        namespace=namespace or "default",
        context="in-cluster",
    )


def load_sync(path: str | Path | None = None, context: str | None = None) -> Config:
    """An explicit file, else ``$KUBECONFIG`` / ``~/.kube/config``, else in-cluster."""
    if path:
        return load_kubeconfig(Path(path), context)
    paths = default_paths()
    if any(p.exists() for p in paths) or context:
        return load_kubeconfig(paths, context)
    return load_in_cluster()


async def load(path: str | Path | None = None, context: str | None = None) -> Config:
    """:func:`load_sync` in a thread (it reads files)."""
    return await asyncio.to_thread(load_sync, path, context)
