"""Service-account tokens for projected volumes, asked of the API and refreshed in time.

Mirrors ``pkg/kubelet/token/token_manager.go``: tokens are cached per (namespace, account,
audience, expiration, pod); one is asked for again (``CreateToken``, bound to the pod) once
80% of its life has passed or it is a day old, whichever comes first (``requiresRefresh``),
and the cache forgets a pod's tokens when the pod goes (``DeleteServiceAccountToken``).
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

from pyk8s.client import rest, tokenrequest

MAX_TTL = datetime.timedelta(hours=24)
DEFAULT_EXPIRATION = 3600  # serviceAccountToken.expirationSeconds' default

Key = tuple[str, str, str, int, str]


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


class TokenManager:
    def __init__(
        self,
        client: rest.Interface,
        clock: Callable[[], datetime.datetime] = _now,
    ) -> None:
        self.client = client
        self.clock = clock
        self._cache: dict[Key, tokenrequest.Token] = {}

    def _fresh(self, tok: tokenrequest.Token) -> bool:
        now = self.clock()
        return now < tok.refresh_after() and now < tok.issued + MAX_TTL

    async def token(self, pod: dict[str, Any], source: dict[str, Any]) -> str:
        """The token of a ``serviceAccountToken`` projection for ``pod``."""
        meta = pod["metadata"]
        spec = pod.get("spec") or {}
        ns = str(meta.get("namespace") or "default")
        account = str(spec.get("serviceAccountName") or "default")
        audience = str(source.get("audience") or "")
        expiration = int(source.get("expirationSeconds") or DEFAULT_EXPIRATION)
        key = (ns, account, audience, expiration, str(meta["uid"]))
        cached = self._cache.get(key)
        if cached is not None and self._fresh(cached):
            return cached.token
        tok = await tokenrequest.request(
            self.client,
            ns,
            account,
            audiences=[audience] if audience else None,
            expiration_seconds=expiration,
            bound_pod=(str(meta["name"]), str(meta["uid"])),
        )
        self._cache[key] = tok
        return tok.token

    def forget(self, pod_uid: str) -> None:
        for key in [k for k in self._cache if k[4] == pod_uid]:
            del self._cache[key]
