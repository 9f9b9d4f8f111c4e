"""The RBAC authorizer: roles and bindings decide who may do what.

Mirrors ``plugin/pkg/auth/authorizer/rbac/rbac.go`` (``RBACAuthorizer.Authorize``:
visit the rules that apply to the user, allow on the first that grants the
request, otherwise no opinion, with the resolution errors as the reason;
``RulesFor`` for SelfSubjectRulesReview) and
``pkg/registry/rbac/validation/rule.go`` (``DefaultRuleResolver``:
ClusterRoleBindings first, then the RoleBindings of the request's namespace;
``appliesTo`` for User, Group and ServiceAccount subjects).

Roles and bindings are read from a :class:`PolicyCache` kept in memory (upstream
reads informer listers): reloaded right away after this server wrote an RBAC
object, so a binding just created is in force for the next request, and every
10 seconds for what other API servers of the same datastore wrote.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from pyk8s.apiserver import authz
from pyk8s.apiserver.authn import User
from pyk8s.apiserver.rbac import rules as rules_
from pyk8s.apiserver.registry.generic.store import ListOptions, Store

log = logging.getLogger(__name__)

Obj = dict[str, Any]
SA_PREFIX = "system:serviceaccount:"


@dataclass
class Policy:
    """One consistent snapshot of the RBAC objects."""

    cluster_roles: dict[str, Obj] = field(default_factory=dict)
    cluster_role_bindings: list[Obj] = field(default_factory=list)
    roles: dict[tuple[str, str], Obj] = field(default_factory=dict)
    role_bindings: dict[str, list[Obj]] = field(default_factory=dict)


class PolicyCache:
    """The RBAC objects in memory, refreshed from the four stores."""

    def __init__(self, stores: dict[str, Store] | None = None, period: float = 10.0) -> None:
        self.stores = stores or {}
        self.period = period
        self.policy = Policy()
        self._dirty = True
        self._lock = asyncio.Lock()

    @classmethod
    def of(cls, policy: Policy) -> PolicyCache:
        """A fixed policy (tests)."""
        c = cls()
        c.policy = policy
        c._dirty = False
        return c

    def invalidate(self) -> None:
        """An RBAC object was written: reload before the next decision."""
        self._dirty = True

    async def ensure_fresh(self) -> None:
        if self._dirty and self.stores:
            await self.reload()

    async def reload(self) -> None:
        async with self._lock:
            if not self.stores:
                return
            self._dirty = False
            p = Policy()
            items: dict[str, list[Obj]] = {}
            for plural, store in self.stores.items():
                listing = await store.list("", ListOptions())
                items[plural] = list(listing.get("items") or [])
            for r in items.get("clusterroles", []):
                p.cluster_roles[r["metadata"]["name"]] = r
            p.cluster_role_bindings = items.get("clusterrolebindings", [])
            for r in items.get("roles", []):
                p.roles[(r["metadata"].get("namespace", ""), r["metadata"]["name"])] = r
            for b in items.get("rolebindings", []):
                p.role_bindings.setdefault(b["metadata"].get("namespace", ""), []).append(b)
            self.policy = p

    async def run(self) -> None:
        """Reload every ``period`` seconds (writes by other API servers) until cancelled."""
        while True:
            try:
                await self.reload()
            except asyncio.CancelledError:
                raise
            except Exception as e:
                log.warning("rbac: reloading roles and bindings failed: %s", e)
            await asyncio.sleep(self.period)


def applies_to(subject: Obj, user: User, binding_namespace: str) -> bool:
    kind = subject.get("kind")
    name: str = subject.get("name", "")
    if kind == "User":
        return user.name == name
    if kind == "Group":
        return bool(name in user.groups)
    if kind == "ServiceAccount":
        ns = subject.get("namespace") or binding_namespace
        return bool(ns) and user.name == f"{SA_PREFIX}{ns}:{name}"
    return False


Visitor = Callable[[str, Obj | None, str], bool]
"""(source description, rule or None, error) -> keep going."""


class RuleResolver:
    """Which rules apply to a user in a namespace (``DefaultRuleResolver``)."""

    def __init__(self, cache: PolicyCache) -> None:
        self.cache = cache

    def role_rules(self, ref: Obj, namespace: str) -> tuple[list[Obj], str]:
        """The rules of a roleRef and, if it cannot be found, the error text."""
        p = self.cache.policy
        kind, name = ref.get("kind"), ref.get("name", "")
        if kind == "ClusterRole":
            role = p.cluster_roles.get(name)
            if role is None:
                return [], f'clusterrole.rbac.authorization.k8s.io "{name}" not found'
        elif kind == "Role":
            role = p.roles.get((namespace, name))
            if role is None:
                return [], f'role.rbac.authorization.k8s.io "{name}" not found'
        else:
            return [], f"unsupported role reference kind: {kind!r}"
        return list(role.get("rules") or []), ""

    def visit(self, user: User, namespace: str) -> Iterator[tuple[Obj | None, str]]:
        """Every rule that applies (rule, "") and every resolution error (None, error)."""
        p = self.cache.policy
        for b in p.cluster_role_bindings:
            if not any(applies_to(s, user, "") for s in b.get("subjects") or []):
                continue
            rules, err = self.role_rules(b.get("roleRef") or {}, "")
            if err:
                yield None, err
            for r in rules:
                yield r, ""
        if not namespace:
            return
        for b in p.role_bindings.get(namespace, []):
            if not any(applies_to(s, user, namespace) for s in b.get("subjects") or []):
                continue
            rules, err = self.role_rules(b.get("roleRef") or {}, namespace)
            if err:
                yield None, err
            for r in rules:
                yield r, ""

    def rules_for(self, user: User, namespace: str) -> tuple[list[Obj], list[str]]:
        rules: list[Obj] = []
        errs: list[str] = []
        for r, err in self.visit(user, namespace):
            if r is not None:
                rules.append(r)
            elif err:
                errs.append(err)
        return rules, errs


class RBACAuthorizer:
    def __init__(self, resolver: RuleResolver) -> None:
        self.resolver = resolver

    def authorize(self, attrs: authz.Attributes) -> tuple[authz.Decision, str]:
        errs: list[str] = []
        for r, err in self.resolver.visit(attrs.user, attrs.namespace):
            if r is None:
                errs.append(err)
                continue
            if rules_.allows(
                r,
                verb=attrs.verb,
                resource_request=attrs.resource_request,
                group=attrs.api_group,
                resource=attrs.resource,
                subresource=attrs.subresource,
                name=attrs.name,
                path=attrs.path,
            ):
                return authz.Decision.ALLOW, ""
        reason = ""
        if errs:
            reason = "RBAC: " + ", ".join(dict.fromkeys(errs))
        return authz.Decision.NO_OPINION, reason

    def rules_for(self, user: User, namespace: str) -> tuple[list[Obj], list[str]]:
        return self.resolver.rules_for(user, namespace)


class PrivilegedGroups:
    """Members of these groups may do anything (``authorizerfactory.NewPrivilegedGroups``)."""

    def __init__(self, *groups: str) -> None:
        self.groups = frozenset(groups)

    def authorize(self, attrs: authz.Attributes) -> tuple[authz.Decision, str]:
        if self.groups.intersection(attrs.user.groups):
            return authz.Decision.ALLOW, ""
        return authz.Decision.NO_OPINION, ""

    def rules_for(self, user: User, namespace: str) -> tuple[list[Obj], list[str]]:
        # Upstream lists no rules for this shortcut: RBAC's cluster-admin binding of
        # system:masters shows them (once, in ``kubectl auth can-i --list``).
        return [], []
