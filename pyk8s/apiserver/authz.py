"""Authorization: may this user do this verb on this resource.

Mirrors k8s.io/apiserver ``pkg/authorization/authorizer`` (``Attributes``,
``Decision``) and ``authorizerfactory.NewAlwaysAllowAuthorizer``. The chain is
an explicit step of the handler (``server.py``); RBAC and Node plug in here.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any, Protocol

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


Rule = dict[str, Any]


class RuleLister(Protocol):
    def rules_for(self, user: User, namespace: str) -> tuple[list[Rule], list[str]]:
        """The rules this authorizer grants ``user`` in ``namespace`` (cluster-wide ones
        included), and the errors met resolving them (``authorizer.RuleResolver``)."""
        ...


_EVERYTHING: list[Rule] = [
    {"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]},
    {"nonResourceURLs": ["*"], "verbs": ["*"]},
]


class AlwaysAllow:
    def authorize(self, attrs: Attributes) -> tuple[Decision, str]:
        return Decision.ALLOW, ""

    def rules_for(self, user: User, namespace: str) -> tuple[list[Rule], list[str]]:
        return [dict(r) for r in _EVERYTHING], []


class AlwaysDeny:
    def authorize(self, attrs: Attributes) -> tuple[Decision, str]:
        return Decision.DENY, "Everything is forbidden."

    def rules_for(self, user: User, namespace: str) -> tuple[list[Rule], list[str]]:
        return [], []


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

    def rules_for(self, user: User, namespace: str) -> tuple[list[Rule], list[str]]:
        rules: list[Rule] = []
        errs: list[str] = []
        for a in self.authorizers:
            lister = getattr(a, "rules_for", None)
            if lister is None:
                continue
            r, e = lister(user, namespace)
            rules.extend(r)
            errs.extend(e)
        return rules, errs
