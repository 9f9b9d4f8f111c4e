"""``registries.yaml`` as k3s reads it: mirrors (with rewrites) and per-host configs.

::

    mirrors:
      docker.io:
        endpoint: ["http://mirror.local:5000"]
        rewrite:
          "^library/(.*)": "mirrored/$1"
      "*":                       # every registry without its own entry
        endpoint: ["http://cache.local:5000"]
    configs:
      "mirror.local:5000":
        auth: {username: u, password: p}       # or auth: base64(u:p), or identity_token
        tls: {insecure_skip_verify: true, ca_file: /path/ca.pem, cert_file: ..., key_file: ...}
      "*":
        tls: {insecure_skip_verify: true}

Mirror endpoints are tried in order, then the registry itself (k3s' default endpoint).
Rewrites apply to the repository path on mirrors. A rewrite whose pattern contains ``:`` is
matched against ``path:tag`` instead, so ``"^library/nginx:.*": "library/nginx:latest"``
also serves any nginx tag from an image already in the store (a machine without internet).
Mirrors k3s ``pkg/agent/containerd`` registry handling and rancher ``wharfie`` ``registries.go``.
"""

from __future__ import annotations

import base64
import ipaddress
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from pyk8s.images import reference

DOCKER_HUB_ENDPOINT = "https://registry-1.docker.io"


class RegistriesError(ValueError):
    pass


@dataclass(frozen=True)
class Auth:
    username: str = ""
    password: str = ""
    identity_token: str = ""


@dataclass(frozen=True)
class TLS:
    insecure_skip_verify: bool = False
    ca_file: str = ""
    cert_file: str = ""
    key_file: str = ""


@dataclass(frozen=True)
class HostConfig:
    auth: Auth | None = None
    tls: TLS = field(default_factory=TLS)


@dataclass(frozen=True)
class Mirror:
    endpoints: tuple[str, ...] = ()
    rewrites: tuple[tuple[re.Pattern[str], str], ...] = ()


@dataclass(frozen=True)
class Endpoint:
    """One place to pull ``path`` from: a base URL (``https://host:port``) and the path there."""

    url: str
    path: str
    tag_or_digest: str
    is_mirror: bool

    @property
    def host(self) -> str:
        return self.url.split("://", 1)[1]


@dataclass(frozen=True)
class Registries:
    mirrors: dict[str, Mirror] = field(default_factory=dict)
    configs: dict[str, HostConfig] = field(default_factory=dict)
    insecure: bool = False  # --insecure: plain HTTP allowed for every registry

    @classmethod
    def load(cls, path: Path | None, *, insecure: bool = False) -> Registries:
        if path is None or not path.exists():
            return cls(insecure=insecure)
        try:
            doc = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as e:
            raise RegistriesError(f"{path}: not YAML: {e}") from None
        return cls.parse(doc, insecure=insecure, where=str(path))

    @classmethod
    def parse(
        cls, doc: Any, *, insecure: bool = False, where: str = "registries.yaml"
    ) -> Registries:
        if not isinstance(doc, dict):
            raise RegistriesError(f"{where}: want a mapping with mirrors and configs")
        mirrors: dict[str, Mirror] = {}
        for host, raw_mirror in (doc.get("mirrors") or {}).items():
            m = raw_mirror or {}
            endpoints = tuple(_endpoint_url(str(e)) for e in m.get("endpoint") or [])
            rewrites = []
            for pattern, repl in (m.get("rewrite") or {}).items():
                try:
                    rewrites.append(
                        (re.compile(str(pattern)), re.sub(r"\$(\d+)", r"\\\1", str(repl)))
                    )
                except re.error as e:
                    raise RegistriesError(
                        f"{where}: mirrors.{host}.rewrite {pattern!r}: {e}"
                    ) from None
            mirrors[_host_key(str(host))] = Mirror(endpoints, tuple(rewrites))
        configs: dict[str, HostConfig] = {}
        for host, raw_config in (doc.get("configs") or {}).items():
            c = raw_config or {}
            auth = None
            if a := c.get("auth"):
                user, pw = str(a.get("username", "")), str(a.get("password", ""))
                if a.get("auth"):
                    user, _, pw = base64.b64decode(str(a["auth"])).decode().partition(":")
                auth = Auth(user, pw, str(a.get("identity_token", "")))
            t = c.get("tls") or {}
            tls = TLS(
                bool(t.get("insecure_skip_verify", False)),
                str(t.get("ca_file", "")),
                str(t.get("cert_file", "")),
                str(t.get("key_file", "")),
            )
            configs[_host_key(str(host))] = HostConfig(auth, tls)
        return cls(mirrors, configs, insecure)

    def config_for(self, host: str) -> HostConfig:
        return self.configs.get(host) or self.configs.get("*") or HostConfig()

    def plain_http_allowed(self, host: str) -> bool:
        return self.insecure or is_loopback(host)

    def rewrite_local(self, ref: reference.Reference) -> list[reference.Reference]:
        """References the rewrites of ``ref``'s registry turn it into (for the local store)."""
        mirror = self.mirrors.get(ref.domain) or self.mirrors.get("*")
        out = []
        for pattern, repl in mirror.rewrites if mirror else ():
            with_tag = ":" in pattern.pattern
            subject = f"{ref.path}:{ref.tag}" if with_tag else ref.path
            if pattern.search(subject):
                new = pattern.sub(repl, subject, count=1)
                path, _, tag = new.partition(":") if with_tag else (new, "", ref.tag)
                out.append(reference.Reference(ref.domain, path, tag or ref.tag, ref.digest))
        return out

    def endpoints(self, ref: reference.Reference) -> list[Endpoint]:
        """Where to pull ``ref`` from, in order: the mirrors, then the registry itself."""
        ident = ref.digest or ref.tag
        out: list[Endpoint] = []
        mirror = self.mirrors.get(ref.domain) or self.mirrors.get("*")
        if mirror:
            for url in mirror.endpoints:
                path, tag = ref.path, ident
                for pattern, repl in mirror.rewrites:
                    with_tag = ":" in pattern.pattern and not ref.digest
                    subject = f"{path}:{tag}" if with_tag else path
                    if pattern.search(subject):
                        new = pattern.sub(repl, subject, count=1)
                        if with_tag:
                            path, _, tag = new.partition(":")
                        else:
                            path = new
                        break
                out.append(Endpoint(url, path, tag, True))
        default = (
            DOCKER_HUB_ENDPOINT
            if ref.domain == reference.DEFAULT_DOMAIN
            else f"https://{ref.domain}"
        )
        if not any(e.url == default for e in out):
            out.append(Endpoint(default, ref.path, ident, False))
        return out


def _host_key(host: str) -> str:
    if host == "*":
        return host
    return reference.DEFAULT_DOMAIN if host in ("index.docker.io", "registry-1.docker.io") else host


def _endpoint_url(url: str) -> str:
    url = url.rstrip("/")
    if "://" not in url:
        url = "https://" + url
    return url.removesuffix("/v2")


def is_loopback(host: str) -> bool:
    """Docker allows plain HTTP to loopback registries without being told."""
    name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    name = name.strip("[]")
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False
