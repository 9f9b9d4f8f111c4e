"""What a service-account token says: its claims, and the user they stand for.

Mirrors ``pkg/serviceaccount/claims.go`` (``Claims`` for bound tokens: ``iss``,
``sub``, ``aud``, ``exp``, ``nbf``, ``iat``, ``jti`` and the private
``kubernetes.io`` claim naming the namespace, the service account and the pod,
secret or node the token is bound to) and ``legacy.go`` (the claims of the
tokens the token controller puts in ``kubernetes.io/service-account-token``
Secrets), and ``util.go`` (``system:serviceaccount:<ns>:<name>`` in
``system:serviceaccounts`` and ``system:serviceaccounts:<ns>``; the
``authentication.kubernetes.io/*`` extra fields).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

DEFAULT_ISSUER = "https://kubernetes.default.svc.cluster.local"
LEGACY_ISSUER = "kubernetes/serviceaccount"
USER_PREFIX = "system:serviceaccount:"
ALL_GROUP = "system:serviceaccounts"
LEGACY_NS = "kubernetes.io/serviceaccount/namespace"
LEGACY_SECRET = "kubernetes.io/serviceaccount/secret.name"
LEGACY_SA_NAME = "kubernetes.io/serviceaccount/service-account.name"
LEGACY_SA_UID = "kubernetes.io/serviceaccount/service-account.uid"
EXTRA_PREFIX = "authentication.kubernetes.io/"


def username(namespace: str, name: str) -> str:
    return f"{USER_PREFIX}{namespace}:{name}"


def groups(namespace: str) -> tuple[str, ...]:
    return (ALL_GROUP, f"{ALL_GROUP}:{namespace}")


def split_username(user: str) -> tuple[str, str] | None:
    """(namespace, name) of a service-account user name, or None."""
    if not user.startswith(USER_PREFIX):
        return None
    ns, sep, name = user[len(USER_PREFIX) :].partition(":")
    if not sep or not ns or not name or ":" in name:
        return None
    return ns, name


@dataclass
class Ref:
    name: str
    uid: str


@dataclass
class Parsed:
    """The facts of a token the authenticator checks against the live objects."""

    namespace: str
    service_account: Ref
    legacy: bool = False
    secret: Ref | None = None
    pod: Ref | None = None
    node: Ref | None = None
    expires: int | None = None
    not_before: int | None = None
    jti: str = ""
    audiences: list[str] = field(default_factory=list)

    @property
    def user(self) -> str:
        return username(self.namespace, self.service_account.name)

    def extra(self) -> dict[str, tuple[str, ...]]:
        out: dict[str, tuple[str, ...]] = {}
        if self.jti:
            out[EXTRA_PREFIX + "credential-id"] = (f"JTI={self.jti}",)
        if self.pod is not None:
            out[EXTRA_PREFIX + "pod-name"] = (self.pod.name,)
            out[EXTRA_PREFIX + "pod-uid"] = (self.pod.uid,)
        if self.node is not None:
            out[EXTRA_PREFIX + "node-name"] = (self.node.name,)
            if self.node.uid:
                out[EXTRA_PREFIX + "node-uid"] = (self.node.uid,)
        return out


def bound(
    *,
    issuer: str,
    audiences: list[str],
    namespace: str,
    service_account: Ref,
    now: int,
    expiration_seconds: int,
    pod: Ref | None = None,
    secret: Ref | None = None,
    node: Ref | None = None,
) -> dict[str, Any]:
    """The claims of a TokenRequest token (``claims.go`` ``Claims``)."""
    k8s: dict[str, Any] = {
        "namespace": namespace,
        "serviceaccount": {"name": service_account.name, "uid": service_account.uid},
    }
    if pod is not None:
        k8s["pod"] = {"name": pod.name, "uid": pod.uid}
    if secret is not None:
        k8s["secret"] = {"name": secret.name, "uid": secret.uid}
    if node is not None:
        k8s["node"] = {"name": node.name, "uid": node.uid}
    return {
        "aud": audiences,
        "exp": now + expiration_seconds,
        "iat": now,
        "iss": issuer,
        "jti": str(uuid.uuid4()),
        "kubernetes.io": k8s,
        "nbf": now,
        "sub": username(namespace, service_account.name),
    }


def legacy(namespace: str, service_account: Ref, secret_name: str) -> dict[str, Any]:
    """The claims of a token Secret's token (``legacy.go`` ``LegacyClaims``)."""
    return {
        "iss": LEGACY_ISSUER,
        LEGACY_NS: namespace,
        LEGACY_SECRET: secret_name,
        LEGACY_SA_NAME: service_account.name,
        LEGACY_SA_UID: service_account.uid,
        "sub": username(namespace, service_account.name),
    }


def _ref(v: Any) -> Ref | None:
    if not isinstance(v, dict) or not isinstance(v.get("name"), str):
        return None
    return Ref(v["name"], str(v.get("uid", "")))


def parse(claims: dict[str, Any], issuers: tuple[str, ...]) -> Parsed | None:
    """What a verified token says, or None when it is not a service-account token of ours."""
    iss = claims.get("iss")
    if iss == LEGACY_ISSUER:
        ns, name = claims.get(LEGACY_NS), claims.get(LEGACY_SA_NAME)
        secret = claims.get(LEGACY_SECRET)
        if not (isinstance(ns, str) and isinstance(name, str) and isinstance(secret, str)):
            return None
        return Parsed(
            ns,
            Ref(name, str(claims.get(LEGACY_SA_UID, ""))),
            legacy=True,
            secret=Ref(secret, ""),
        )
    if iss not in issuers:
        return None
    k8s = claims.get("kubernetes.io")
    if not isinstance(k8s, dict) or not isinstance(k8s.get("namespace"), str):
        return None
    sa = _ref(k8s.get("serviceaccount"))
    if sa is None:
        return None
    aud = claims.get("aud")
    audiences = [aud] if isinstance(aud, str) else [a for a in aud or [] if isinstance(a, str)]
    return Parsed(
        k8s["namespace"],
        sa,
        secret=_ref(k8s.get("secret")),
        pod=_ref(k8s.get("pod")),
        node=_ref(k8s.get("node")),
        expires=claims.get("exp") if isinstance(claims.get("exp"), int) else None,
        not_before=claims.get("nbf") if isinstance(claims.get("nbf"), int) else None,
        jti=str(claims.get("jti") or ""),
        audiences=audiences,
    )
