"""No privilege escalation through RBAC objects.

Mirrors ``pkg/registry/rbac/{role,clusterrole,rolebinding,clusterrolebinding}/
policybased/storage.go`` and ``pkg/registry/rbac/escalation_check.go``: writing a
Role or ClusterRole needs every rule it grants to be held already (``ConfirmNoEscalation``)
unless the writer may ``escalate`` that role; writing a binding needs the
referenced role's rules, unless the writer may ``bind`` it; members of
``system:masters`` (and the server itself) skip the checks. An aggregationRule
needs ``escalate``. An update that leaves the rules (or roleRef and subjects)
as they were is not checked. The refusal is upstream's 403 text.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pyk8s.api import errors
from pyk8s.apiserver import authn, authz
from pyk8s.apiserver.rbac import covers, rules
from pyk8s.apiserver.rbac.authorizer import RuleResolver

Obj = dict[str, Any]
GROUP = "rbac.authorization.k8s.io"
MASTERS = "system:masters"


def _go_quote_list(values: tuple[str, ...] | list[str]) -> str:
    return "[" + " ".join(f'"{v}"' for v in values) + "]"


def compact(units: list[rules.Rule]) -> list[str]:
    """Missing rule units merged by everything but the verb, as sorted strings."""
    merged: dict[tuple[Any, ...], list[str]] = {}
    for u in units:
        key = (
            tuple(u.get("apiGroups") or ()),
            tuple(u.get("resources") or ()),
            tuple(u.get("resourceNames") or ()),
            tuple(u.get("nonResourceURLs") or ()),
        )
        verbs = merged.setdefault(key, [])
        for v in u.get("verbs") or ():
            if v not in verbs:
                verbs.append(v)
    out: list[rules.Rule] = []
    for (groups, resources, names, urls), verbs in merged.items():
        r: rules.Rule = {}
        if urls:
            r["nonResourceURLs"] = list(urls)
        else:
            r["apiGroups"] = list(groups)
            r["resources"] = list(resources)
            if names:
                r["resourceNames"] = list(names)
        r["verbs"] = verbs
        out.append(r)
    return sorted(rules.render(r) for r in out)


class Check:
    """The admission step for one of the four RBAC resources."""

    def __init__(
        self,
        plural: str,
        authorizer: Callable[[], authz.Authorizer],
        resolver: RuleResolver,
    ) -> None:
        self.plural = plural
        self.authorizer = authorizer
        self.resolver = resolver

    def _allowed(self, user: authn.User, verb: str, resource: str, ns: str, name: str) -> bool:
        attrs = authz.Attributes(
            user=user,
            verb=verb,
            resource_request=True,
            api_group=GROUP,
            api_version="*",
            namespace=ns,
            resource=resource,
            name=name,
        )
        decision, _ = self.authorizer().authorize(attrs)
        return decision is authz.Decision.ALLOW

    def _forbidden(self, name: str, why: str) -> errors.Forbidden:
        return errors.Forbidden(
            f'{self.plural}.{GROUP} "{name}" is forbidden: {why}',
            details={"name": name, "group": GROUP, "kind": self.plural},
        )

    def _confirm(self, user: authn.User, ns: str, name: str, wanted: list[Obj]) -> None:
        owner, errs = self.resolver.rules_for(user, ns)
        missing = covers.uncovered(owner, wanted)
        if not missing:
            return
        msg = (
            f'user "{user.name}" (groups={_go_quote_list(user.groups)}) is attempting to grant '
            "RBAC permissions not currently held:\n" + "\n".join(compact(missing))
        )
        if errs:
            msg += f"; resolution errors: [{', '.join(errs)}]"
        raise self._forbidden(name, msg)

    async def __call__(self, op: str, obj: Obj, old: Obj | None) -> None:
        if op not in ("CREATE", "UPDATE"):
            return
        user = authn.current_user.get()
        if user is None or MASTERS in user.groups:
            return
        md = obj.get("metadata") or {}
        ns, name = md.get("namespace", ""), md.get("name", "")
        if self.plural in ("roles", "clusterroles"):
            if (
                old is not None
                and old.get("rules") == obj.get("rules")
                and old.get("aggregationRule") == obj.get("aggregationRule")
            ):
                return
            if self._allowed(user, "escalate", self.plural, ns, name):
                return
            if obj.get("aggregationRule") and (
                old is None or old.get("aggregationRule") != obj.get("aggregationRule")
            ):
                raise self._forbidden(
                    name, "must have cluster-admin privileges to use the aggregationRule"
                )
            self._confirm(user, ns, name, list(obj.get("rules") or []))
            return
        ref = obj.get("roleRef") or {}
        if old is not None and (old.get("roleRef"), old.get("subjects")) == (
            ref,
            obj.get("subjects"),
        ):
            return
        kind = ref.get("kind", "")
        resource = "clusterroles" if kind == "ClusterRole" else "roles"
        if self._allowed(user, "bind", resource, ns, ref.get("name", "")):
            return
        wanted, err = self.resolver.role_rules(ref, ns)
        if err:
            raise self._forbidden(name, err)
        self._confirm(user, ns, name, wanted)
