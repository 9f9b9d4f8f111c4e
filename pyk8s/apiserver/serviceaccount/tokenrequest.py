"""``POST .../serviceaccounts/<name>/token``: TokenRequest, a signed bound token.

Mirrors ``pkg/registry/core/serviceaccount/storage/token.go`` (``TokenREST.Create``:
defaults — one hour, the API audiences —, ``expirationSeconds`` of at least 10
minutes, a ``boundObjectRef`` to a Pod, Secret or Node that must exist with
the given uid, the pod's node recorded as well) and
``pkg/apis/authentication/validation`` (the 422 texts). The response is the
TokenRequest with ``status.token`` and ``status.expirationTimestamp``.
"""

from __future__ import annotations

import datetime
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa

from pyk8s.api import errors
from pyk8s.api.serviceaccount import claims, jwt

Getter = Callable[[str, str, str], Awaitable[dict[str, Any]]]
"""(resource plural, namespace, name) -> the stored object, or NotFound."""

DEFAULT_EXPIRATION = 3600
MIN_EXPIRATION = 600
MAX_EXPIRATION = 1 << 32
BINDABLE = {"Pod": "pods", "Secret": "secrets", "Node": "nodes"}


@dataclass
class Issuer:
    """What the API server signs tokens with (``--service-account-*`` flags)."""

    key: rsa.RSAPrivateKey
    issuer: str = claims.DEFAULT_ISSUER
    audiences: tuple[str, ...] = (claims.DEFAULT_ISSUER,)
    max_expiration: int = 0
    """Seconds; 0: no cap (``--service-account-max-token-expiration`` unset)."""


def _invalid(name: str, field: str, value: Any, detail: str) -> errors.Invalid:
    return errors.Invalid.for_object(
        "TokenRequest",
        "authentication.k8s.io",
        name,
        [errors.invalid_value(field, value, detail)],
    )


def _rfc3339(ts: float) -> str:
    return datetime.datetime.fromtimestamp(int(ts), tz=datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


async def create(
    issuer: Issuer,
    get: Getter,
    namespace: str,
    name: str,
    body: dict[str, Any],
    *,
    now: float | None = None,
) -> dict[str, Any]:
    if body.get("kind") not in (None, "TokenRequest"):
        raise errors.BadRequest(
            f"the body of the request was of kind {body.get('kind')!r}, not TokenRequest"
        )
    spec = dict(body.get("spec") or {})
    expiration = spec.get("expirationSeconds")
    if expiration is None:
        expiration = DEFAULT_EXPIRATION
    if not isinstance(expiration, int) or isinstance(expiration, bool):
        raise errors.BadRequest("spec.expirationSeconds must be an integer")
    if expiration < MIN_EXPIRATION:
        raise _invalid(
            name, "spec.expirationSeconds", expiration,
            "may not specify a duration less than 10 minutes",
        )  # fmt: skip
    if expiration > MAX_EXPIRATION:
        raise _invalid(
            name, "spec.expirationSeconds", expiration,
            "may not specify a duration larger than 2^32 seconds",
        )  # fmt: skip
    if issuer.max_expiration and expiration > issuer.max_expiration:
        expiration = issuer.max_expiration
    audiences = [a for a in spec.get("audiences") or [] if isinstance(a, str)]
    if not audiences:
        audiences = list(issuer.audiences)
    sa = await get("serviceaccounts", namespace, name)
    sa_ref = claims.Ref(name, sa["metadata"].get("uid", ""))
    pod = secret = node = None
    ref = spec.get("boundObjectRef")
    if ref:
        kind = ref.get("kind", "")
        plural = BINDABLE.get(kind)
        if plural is None or ref.get("apiVersion", "v1") != "v1":
            raise errors.BadRequest(
                f"cannot bind token for object of type {ref.get('apiVersion', '')}, Kind={kind}"
            )
        obj = await get(plural, "" if kind == "Node" else namespace, ref.get("name", ""))
        uid = obj["metadata"].get("uid", "")
        if ref.get("uid") and ref["uid"] != uid:
            raise errors.Conflict.for_object(
                plural,
                "",
                ref.get("name", ""),
                f"the UID in the bound object reference ({ref['uid']}) does not match the UID "
                "in record. The object might have been deleted and then recreated",
            )
        bound = claims.Ref(ref.get("name", ""), uid)
        if kind == "Pod":
            pod = bound
            node_name = (obj.get("spec") or {}).get("nodeName")
            if node_name:
                try:
                    n = await get("nodes", "", node_name)
                    node = claims.Ref(node_name, n["metadata"].get("uid", ""))
                except errors.NotFound:
                    node = claims.Ref(node_name, "")
        elif kind == "Secret":
            secret = bound
        else:
            node = bound
    issued = int(now if now is not None else time.time())
    token = jwt.sign(
        claims.bound(
            issuer=issuer.issuer,
            audiences=audiences,
            namespace=namespace,
            service_account=sa_ref,
            now=issued,
            expiration_seconds=expiration,
            pod=pod,
            secret=secret,
            node=node,
        ),
        issuer.key,
    )
    spec["audiences"] = audiences
    spec["expirationSeconds"] = expiration
    spec.setdefault("boundObjectRef", None)
    return {
        "kind": "TokenRequest",
        "apiVersion": "authentication.k8s.io/v1",
        "metadata": {"name": name, "namespace": namespace, "creationTimestamp": _rfc3339(issued)},
        "spec": spec,
        "status": {"token": token, "expirationTimestamp": _rfc3339(issued + expiration)},
    }


def openid_configuration(issuer: str, jwks_uri: str) -> dict[str, Any]:
    """``/.well-known/openid-configuration`` (``pkg/serviceaccount/openidmetadata.go``)."""
    return {
        "issuer": issuer,
        "jwks_uri": jwks_uri,
        "response_types_supported": ["id_token"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
    }


def jwks(keys: list[rsa.RSAPublicKey]) -> dict[str, Any]:
    """``/openid/v1/jwks``: the keys that verify service-account tokens."""
    return {"keys": [jwt.jwk(k) for k in keys]}
