"""Authentication: who sent a request.

Mirrors k8s.io/apiserver ``pkg/authentication``: an ordered union of
authenticators (``request/union``) — the TLS client certificate
(``request/x509``: CN is the user, O the groups), static bearer tokens from
``--token-auth-file`` (``token/tokenfile``: CSV ``token,user,uid,"g1,g2"``), service-account JWTs
(``apiserver.serviceaccount.authenticator``) —
and, when none answers, the anonymous user (``system:anonymous`` in
``system:unauthenticated``), which the server admits only on the health and
version paths. Every authenticated user is in ``system:authenticated``.
"""

from __future__ import annotations

import contextvars
import csv
import io
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

ANONYMOUS = "system:anonymous"
UNAUTHENTICATED = "system:unauthenticated"
AUTHENTICATED = "system:authenticated"


@dataclass(frozen=True)
class User:
    name: str
    uid: str = ""
    groups: tuple[str, ...] = ()
    extra: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def anonymous(self) -> bool:
        return self.name == ANONYMOUS


ANONYMOUS_USER = User(ANONYMOUS, groups=(UNAUTHENTICATED,))

current_user: contextvars.ContextVar[User | None] = contextvars.ContextVar(
    "current_user", default=None
)
"""The user a request runs as (after impersonation), for checks deep in the registry
(upstream's ``request.UserFrom(ctx)``); None inside the server's own work."""


class AuthenticationError(Exception):
    """Credentials were presented but are not valid (401)."""


def _with_authenticated(groups: tuple[str, ...]) -> tuple[str, ...]:
    return groups if AUTHENTICATED in groups else (*groups, AUTHENTICATED)


def user_from_peercert(peercert: Mapping[str, Any] | None) -> User | None:
    """The user of a verified client certificate (``ssl`` peer-certificate dict)."""
    if not peercert:
        return None
    cn = ""
    orgs: list[str] = []
    for rdn in peercert.get("subject", ()):
        for key, value in rdn:
            if key == "commonName":
                cn = value
            elif key == "organizationName":
                orgs.append(value)
    if not cn:
        return None
    return User(cn, groups=_with_authenticated(tuple(orgs)))


@dataclass
class TokenFile:
    """``--token-auth-file``: one ``token,user,uid[,"group1,group2"]`` per line."""

    users: dict[str, User]

    @classmethod
    def parse(cls, text: str, source: str = "token file") -> TokenFile:
        users: dict[str, User] = {}
        for lineno, row in enumerate(csv.reader(io.StringIO(text)), start=1):
            if not row or row[0].startswith("#"):
                continue
            if len(row) < 3:
                raise ValueError(
                    f"{source}, line {lineno}: expected token,user,uid[,groups]; got {len(row)} "
                    "fields"
                )
            token, name, uid = (c.strip() for c in row[:3])
            if not token or not name:
                raise ValueError(f"{source}, line {lineno}: token and user must not be empty")
            groups: tuple[str, ...] = ()
            if len(row) > 3 and row[3].strip():
                groups = tuple(g.strip() for g in row[3].split(",") if g.strip())
            users[token] = User(name, uid=uid, groups=_with_authenticated(groups))
        return cls(users)

    @classmethod
    def load(cls, path: Path) -> TokenFile:
        return cls.parse(path.read_text(), str(path))

    def authenticate(self, token: str) -> User | None:
        return self.users.get(token)


class TokenAuthenticator(Protocol):
    async def authenticate(self, token: str) -> User | None:
        """The user; None when the token is not this authenticator's kind;
        AuthenticationError when it is but is not valid."""
        ...


@dataclass
class Authenticator:
    """The union of the configured authenticators; ``None`` means anonymous."""

    token_file: TokenFile | None = None
    service_accounts: TokenAuthenticator | None = None

    async def authenticate(
        self, authorization: str | None, peercert: Mapping[str, Any] | None
    ) -> User | None:
        """Raises AuthenticationError when a bearer token was given and is unknown."""
        if authorization:
            scheme, _, token = authorization.partition(" ")
            token = token.strip()
            if scheme.lower() == "bearer" and token:
                user = self.token_file.authenticate(token) if self.token_file else None
                if user is None and self.service_accounts is not None:
                    user = await self.service_accounts.authenticate(token)
                if user is None:
                    raise AuthenticationError("invalid bearer token")
                return user
        return user_from_peercert(peercert)
