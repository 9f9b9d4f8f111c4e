"""Authorization: may this user do this verb on this resource.

Mirrors k8s.io/apiserver ``pkg/authorization/authorizer`` (``Attributes``,
``Decision``) and ``authorizerfactory.NewAlwaysAllowAuthorizer``. The chain is
an explicit step of the handler (``server.py``); RBAC and Node plug in here.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Protocol

from pyk8s.apiserver.authn import User


class Decision(enum.Enum):
    ALLOW = "Allow"
    DENY = "Deny"
    NO_OPINION = "NoOpinion"


@dataclass(frozen=True)
class Attributes:
    user: User
    verb: str
    resource_request: bool
    api_group: str = ""
    api_version: str = ""
    namespace: str = ""
    resource: str = ""
    subresource: str = ""
    name: str = ""
    path: str = ""


class Authorizer(Protocol):
    def authorize(self, attrs: Attributes) -> tuple[Decision, str]:
        """A decision and, for DENY, the reason shown to the user."""
        ...


class AlwaysAllow:
    def authorize(self, attrs: Attributes) -> tuple[Decision, str]:
        return Decision.ALLOW, ""


class Union:
    """The first authorizer with an opinion decides (``authorizer/union``)."""

    def __init__(self, *authorizers: Authorizer) -> None:
        self.authorizers = authorizers

    def authorize(self, attrs: Attributes) -> tuple[Decision, str]:
        reasons: list[str] = []
        for a in self.authorizers:
            decision, reason = a.authorize(attrs)
            if decision is not Decision.NO_OPINION:
                return decision, reason
            if reason:
                reasons.append(reason)
        return Decision.NO_OPINION, ", ".join(reasons)
