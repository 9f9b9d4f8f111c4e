"""Who a request is from, and whether they may make it, delegated to the cluster.

Mirrors ``k8s.io/apiserver/pkg/server/options`` ``DelegatingAuthenticationOptions`` and
``DelegatingAuthorizationOptions`` as metrics-server uses them: the trust comes from
``kube-system/extension-apiserver-authentication`` (the request-header CA, the allowed
proxy names and header names; the client CA), a request is from the user named in
``X-Remote-User`` / ``X-Remote-Group`` when its client certificate is a front proxy's
(``request/headerrequest``) or from the certificate's subject when the client CA signed it
(``request/x509``); the decision is a SubjectAccessReview, cached 10 s either way
(``authorizerfactory.DelegatingAuthorizerConfig``).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from cryptography import x509
from cryptography.x509.oid import NameOID

from pyk8s.client import rest

CONFIGMAPS = rest.ResourceRef("", "v1", "configmaps", True, "ConfigMap")
SUBJECT_ACCESS_REVIEWS = rest.ResourceRef(
    "authorization.k8s.io", "v1", "subjectaccessreviews", False, "SubjectAccessReview"
)
AUTH_NAMESPACE, AUTH_CONFIGMAP = "kube-system", "extension-apiserver-authentication"
CACHE_TTL = 10.0


@dataclass(frozen=True)
class User:
    name: str
    groups: tuple[str, ...] = ()
    uid: str = ""
    extra: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class Trust:
    """What ``extension-apiserver-authentication`` says."""

    request_header_ca: str = ""
    allowed_names: tuple[str, ...] = ()
    username_headers: tuple[str, ...] = ("X-Remote-User",)
    group_headers: tuple[str, ...] = ("X-Remote-Group",)
    uid_headers: tuple[str, ...] = ()
    extra_prefixes: tuple[str, ...] = ("X-Remote-Extra-",)
    client_ca: str = ""

    @classmethod
    def from_configmap(cls, cm: Mapping[str, Any]) -> Trust:
        data = cm.get("data") or {}

        def names(key: str, default: tuple[str, ...]) -> tuple[str, ...]:
            raw = data.get(key)
            if not raw:
                return default
            value = json.loads(raw)
            return tuple(str(v) for v in value) if isinstance(value, list) else default

        return cls(
            request_header_ca=data.get("requestheader-client-ca-file", ""),
            allowed_names=names("requestheader-allowed-names", ()),
            username_headers=names("requestheader-username-headers", ("X-Remote-User",)),
            group_headers=names("requestheader-group-headers", ("X-Remote-Group",)),
            uid_headers=names("requestheader-uid-headers", ()),
            extra_prefixes=names("requestheader-extra-headers-prefix", ("X-Remote-Extra-",)),
            client_ca=data.get("client-ca-file", ""),
        )

    def ca_bundle(self) -> str:
        return "\n".join(p for p in (self.request_header_ca, self.client_ca) if p)

    def _subjects(self, pem: str) -> set[str]:
        if not pem:
            return set()
        return {c.subject.rfc4514_string() for c in x509.load_pem_x509_certificates(pem.encode())}

    def issuers(self) -> tuple[set[str], set[str]]:
        """RFC 4514 subjects of the request-header CAs and of the client CAs."""
        return self._subjects(self.request_header_ca), self._subjects(self.client_ca)


def _rfc4514(name: Any) -> str:
    """An ``ssl`` peer-certificate name as an RFC 4514 string, for comparison."""
    oids = {
        "commonName": NameOID.COMMON_NAME,
        "organizationName": NameOID.ORGANIZATION_NAME,
        "organizationalUnitName": NameOID.ORGANIZATIONAL_UNIT_NAME,
        "countryName": NameOID.COUNTRY_NAME,
    }
    attrs = [x509.NameAttribute(oids[k], v) for rdn in name or () for k, v in rdn if k in oids]
    return x509.Name(attrs).rfc4514_string()


def _cert_user(peer: Mapping[str, Any]) -> tuple[str, tuple[str, ...]]:
    cn, orgs = "", []
    for rdn in peer.get("subject", ()):
        for k, v in rdn:
            if k == "commonName":
                cn = v
            elif k == "organizationName":
                orgs.append(v)
    return cn, tuple(orgs)


class Authenticator:
    def __init__(self, trust: Trust) -> None:
        self.trust = trust
        self._proxy_issuers, self._client_issuers = trust.issuers()

    def authenticate(
        self,
        peer: Mapping[str, Any] | None,
        headers: Mapping[str, str],
        getall: Callable[[str], list[str]],
    ) -> User | None:
        """The request's user; None: not authenticated (401)."""
        if not peer:
            return None
        issuer = _rfc4514(peer.get("issuer"))
        cn, orgs = _cert_user(peer)
        if issuer in self._proxy_issuers:
            if self.trust.allowed_names and cn not in self.trust.allowed_names:
                return None
            name = next((headers[h] for h in self.trust.username_headers if headers.get(h)), "")
            if not name:
                return None
            groups = tuple(g for h in self.trust.group_headers for g in getall(h))
            uid = next((headers[h] for h in self.trust.uid_headers if headers.get(h)), "")
            extra: dict[str, tuple[str, ...]] = {}
            for prefix in self.trust.extra_prefixes:
                for k in headers:
                    if k.lower().startswith(prefix.lower()):
                        key = unquote(k[len(prefix) :]).lower()
                        extra[key] = tuple(getall(k))
            return User(name, groups, uid, extra)
        if issuer in self._client_issuers and cn:
            return User(cn, (*orgs, "system:authenticated"))
        return None


@dataclass(frozen=True)
class Attributes:
    verb: str
    path: str = ""
    group: str = ""
    version: str = ""
    resource: str = ""
    namespace: str = ""
    name: str = ""

    @property
    def resource_request(self) -> bool:
        return bool(self.resource)


class Authorizer:
    """SubjectAccessReviews through the client, with decisions cached for 10 s."""

    def __init__(self, client: rest.Client, clock: Callable[[], float] = time.monotonic) -> None:
        self.client = client
        self.clock = clock
        self._cache: dict[tuple[Any, ...], tuple[float, bool, str]] = {}

    async def authorize(self, user: User, attrs: Attributes) -> tuple[bool, str]:
        key = (user.name, user.groups, user.uid, tuple(sorted(user.extra.items())), attrs)
        now = self.clock()
        hit = self._cache.get(key)
        if hit is not None and now - hit[0] < CACHE_TTL:
            return hit[1], hit[2]
        spec: dict[str, Any] = {"user": user.name, "groups": list(user.groups)}
        if user.uid:
            spec["uid"] = user.uid
        if user.extra:
            spec["extra"] = {k: list(v) for k, v in user.extra.items()}
        if attrs.resource_request:
            ra = {
                "verb": attrs.verb,
                "group": attrs.group,
                "version": attrs.version,
                "resource": attrs.resource,
                "namespace": attrs.namespace,
                "name": attrs.name,
            }
            spec["resourceAttributes"] = {k: v for k, v in ra.items() if v}
        else:
            spec["nonResourceAttributes"] = {"verb": attrs.verb, "path": attrs.path}
        review = await self.client.create(
            SUBJECT_ACCESS_REVIEWS,
            {"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview", "spec": spec},
        )
        status = review.get("status") or {}
        allowed = bool(status.get("allowed")) and not status.get("denied")
        reason = str(status.get("reason") or "")
        if len(self._cache) > 4096:
            self._cache.clear()
        self._cache[key] = (now, allowed, reason)
        return allowed, reason
