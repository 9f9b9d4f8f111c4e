"""The service-account token authenticator: a verified JWT -> the service account's user.

Mirrors ``pkg/serviceaccount/jwt.go`` (``JWTTokenAuthenticator``: tokens from
other issuers are left to the next authenticator; a bad signature, an expired
or not-yet-valid token, or one for another audience is refused) with the
validators of ``claims.go`` (bound tokens: the service account, and the pod or
Secret it is bound to, must still exist with the same uid and not be
terminating) and ``legacy.go`` (Secret tokens: the Secret must exist, belong to
that service account and still hold this very token). Successes are cached for
a few seconds, as upstream's token cache does.
"""

from __future__ import annotations

import base64
import hmac
import time
from collections.abc import Awaitable, Callable
from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa

from pyk8s.api import errors
from pyk8s.api.serviceaccount import claims as claims_
from pyk8s.api.serviceaccount import jwt
from pyk8s.apiserver.authn import AUTHENTICATED, AuthenticationError, User

Getter = Callable[[str, str, str], Awaitable[dict[str, Any]]]
"""(resource plural, namespace, name) -> the stored object, or NotFound."""

CACHE_TTL = 10.0


class ServiceAccountAuthenticator:
    def __init__(
        self,
        keys: list[rsa.RSAPublicKey],
        issuers: tuple[str, ...],
        audiences: tuple[str, ...],
        get: Getter,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.keys = keys
        self.issuers = issuers
        self.audiences = audiences
        self.get = get
        self.clock = clock
        self._cache: dict[str, tuple[float, User]] = {}

    def claims_ours(self, token: str) -> bool:
        c = jwt.unverified_claims(token)
        return c is not None and (
            c.get("iss") in self.issuers or c.get("iss") == claims_.LEGACY_ISSUER
        )

    async def authenticate(self, token: str) -> User | None:
        """The user, None when the token is not a service-account JWT at all, or
        AuthenticationError when it is one but not valid."""
        if not self.claims_ours(token):
            return None
        now = self.clock()
        hit = self._cache.get(token)
        if hit is not None and hit[0] > now:
            return hit[1]
        try:
            verified = jwt.verify(token, self.keys)
        except jwt.TokenError as e:
            raise AuthenticationError(str(e)) from None
        parsed = claims_.parse(verified, self.issuers)
        if parsed is None:
            raise AuthenticationError("token claims are not a service account's")
        if parsed.legacy:
            await self._check_legacy(parsed, token)
        else:
            self._check_times_and_audience(parsed, now)
            await self._check_bound(parsed)
        user = User(
            parsed.user,
            uid=parsed.service_account.uid,
            groups=(*claims_.groups(parsed.namespace), AUTHENTICATED),
            extra=parsed.extra(),
        )
        ttl = CACHE_TTL
        if parsed.expires is not None:
            ttl = min(ttl, parsed.expires - now)
        if len(self._cache) > 4096:
            self._cache.clear()
        self._cache[token] = (now + ttl, user)
        return user

    def _check_times_and_audience(self, p: claims_.Parsed, now: float) -> None:
        leeway = 60
        if p.expires is not None and now > p.expires + leeway:
            raise AuthenticationError("service account token has expired")
        if p.not_before is not None and now < p.not_before - leeway:
            raise AuthenticationError("service account token is not valid yet")
        if self.audiences and not set(p.audiences) & set(self.audiences):
            raise AuthenticationError("token audiences are invalid for the target audiences")

    async def _live(self, plural: str, ns: str, ref: claims_.Ref, what: str) -> dict[str, Any]:
        try:
            obj = await self.get(plural, ns, ref.name)
        except errors.NotFound:
            raise AuthenticationError(f"{what} {ns}/{ref.name} has been deleted") from None
        md = obj.get("metadata") or {}
        if ref.uid and md.get("uid") != ref.uid:
            raise AuthenticationError(
                f"{what} UID ({md.get('uid')}) does not match claim ({ref.uid})"
            )
        if md.get("deletionTimestamp"):
            raise AuthenticationError(f"{what} {ns}/{ref.name} is being deleted")
        return obj

    async def _check_bound(self, p: claims_.Parsed) -> None:
        await self._live("serviceaccounts", p.namespace, p.service_account, "service account")
        if p.secret is not None:
            await self._live("secrets", p.namespace, p.secret, "secret")
        if p.pod is not None:
            await self._live("pods", p.namespace, p.pod, "pod")

    async def _check_legacy(self, p: claims_.Parsed, token: str) -> None:
        assert p.secret is not None
        secret = await self._live("secrets", p.namespace, p.secret, "secret")
        annotations = (secret.get("metadata") or {}).get("annotations") or {}
        if annotations.get("kubernetes.io/service-account.name") != p.service_account.name:
            raise AuthenticationError("token secret does not reference the service account")
        data = secret.get("data") or {}
        try:
            stored = base64.b64decode(data.get("token", ""), validate=True)
        except (ValueError, TypeError):
            stored = b""
        if not hmac.compare_digest(stored, token.encode()):
            raise AuthenticationError("token does not match the secret's token")
        await self._live("serviceaccounts", p.namespace, p.service_account, "service account")
