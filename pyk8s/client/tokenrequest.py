"""Asking the API server for a service-account token (TokenRequest).

What the kubelet's token manager does for projected ``serviceAccountToken``
volumes (``pkg/kubelet/token/token_manager.go`` ``GetServiceAccountToken``,
through ``CoreV1().ServiceAccounts(ns).CreateToken``): a POST to
``/api/v1/namespaces/<ns>/serviceaccounts/<name>/token``, optionally bound to
the pod so the token dies with it. The caller needs ``create`` on
``serviceaccounts/token`` (the ``system:node`` role and ``edit`` have it).

Example (a kubelet mounting a pod's token)::

    tok = await tokenrequest.request(
        client, pod_ns, "default", audiences=["https://kubernetes.default.svc.cluster.local"],
        expiration_seconds=3607, bound_pod=(pod_name, pod_uid),
    )
    write(tok.token); refresh after tok.refresh_after()
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

from pyk8s.client import rest

SERVICEACCOUNTS = rest.ResourceRef("", "v1", "serviceaccounts", True, "ServiceAccount")


@dataclass(frozen=True)
class Token:
    token: str
    expiration: datetime.datetime
    """When the API server stops accepting it (UTC)."""
    issued: datetime.datetime

    def refresh_after(self) -> datetime.datetime:
        """When to ask for a new one: at 80% of its life, as the kubelet does."""
        return self.issued + (self.expiration - self.issued) * 0.8


def _parse_time(s: str) -> datetime.datetime:
    return datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.UTC)


async def request(
    client: rest.Interface,
    namespace: str,
    service_account: str,
    *,
    audiences: list[str] | None = None,
    expiration_seconds: int = 3600,
    bound_pod: tuple[str, str] | None = None,
    bound_secret: tuple[str, str] | None = None,
) -> Token:
    """A token for ``namespace/service_account``; ``bound_*`` is (name, uid).

    ``audiences`` None: the API server's own (the token then works against the API).
    Raises the client's ApiError types (NotFound for a missing account, Invalid for
    an expiration under 10 minutes, Forbidden without ``create serviceaccounts/token``)."""
    spec: dict[str, Any] = {"expirationSeconds": expiration_seconds}
    if audiences:
        spec["audiences"] = list(audiences)
    bound = ("Pod", bound_pod) if bound_pod else ("Secret", bound_secret) if bound_secret else None
    if bound is not None and bound[1] is not None:
        name, uid = bound[1]
        spec["boundObjectRef"] = {"kind": bound[0], "apiVersion": "v1", "name": name, "uid": uid}
    body = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": spec}
    out = await client.create(
        SERVICEACCOUNTS, body, namespace, name=service_account, subresource="token"
    )
    status = out.get("status") or {}
    issued = _parse_time((out.get("metadata") or {}).get("creationTimestamp") or "")
    return Token(status["token"], _parse_time(status["expirationTimestamp"]), issued)
