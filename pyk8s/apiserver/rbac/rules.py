"""PolicyRules: building them and deciding whether one allows a request.

Mirrors ``pkg/apis/rbac/v1/evaluation_helpers.go`` (``VerbMatches``,
``APIGroupMatches``, ``ResourceMatches`` with the ``*/subresource`` form,
``ResourceNameMatches``, ``NonResourceURLMatches`` with a trailing ``*``) and
``plugin/pkg/auth/authorizer/rbac/rbac.go`` ``RuleAllows``; the builders stand
for ``rbacv1helpers.NewRule(...).Groups(...).Resources(...)``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

Rule = dict[str, Any]

READ = ("get", "list", "watch")
WRITE = ("create", "delete", "deletecollection", "patch", "update")
READ_WRITE = ("get", "list", "watch", "create", "update", "patch", "delete", "deletecollection")


def _split(v: str | Iterable[str]) -> list[str]:
    if isinstance(v, str):
        return [x.strip() for x in v.split(",") if x.strip()] if v else [""]
    return list(v)


def rule(
    verbs: str | Iterable[str],
    groups: str | Iterable[str],
    resources: str | Iterable[str],
    names: str | Iterable[str] = (),
) -> Rule:
    """A resource rule; comma-separated strings or sequences (``""`` is the core group)."""
    out: Rule = {
        "apiGroups": _split(groups),
        "resources": _split(resources),
        "verbs": _split(verbs),
    }
    if names:
        out["resourceNames"] = _split(names)
    return out


def url_rule(verbs: str | Iterable[str], urls: str | Iterable[str]) -> Rule:
    return {"nonResourceURLs": _split(urls), "verbs": _split(verbs)}


def events_rule() -> Rule:
    """``eventsRule()`` of upstream: create/update/patch events in both groups."""
    return rule("create,update,patch", ["", "events.k8s.io"], "events")


def verb_matches(r: Mapping[str, Any], verb: str) -> bool:
    verbs = r.get("verbs") or ()
    return "*" in verbs or verb in verbs


def group_matches(r: Mapping[str, Any], group: str) -> bool:
    groups = r.get("apiGroups") or ()
    return "*" in groups or group in groups


def resource_matches(r: Mapping[str, Any], resource: str, subresource: str) -> bool:
    combined = f"{resource}/{subresource}" if subresource else resource
    for res in r.get("resources") or ():
        if res in ("*", combined):
            return True
        if subresource and res.startswith("*/") and res[2:] == subresource:
            return True
    return False


def name_matches(r: Mapping[str, Any], name: str) -> bool:
    names = r.get("resourceNames") or ()
    return not names or name in names


def url_matches(r: Mapping[str, Any], path: str) -> bool:
    for url in r.get("nonResourceURLs") or ():
        if url in ("*", path):
            return True
        if url.endswith("*") and path.startswith(url[:-1]):
            return True
    return False


def allows(
    r: Mapping[str, Any],
    *,
    verb: str,
    resource_request: bool,
    group: str = "",
    resource: str = "",
    subresource: str = "",
    name: str = "",
    path: str = "",
) -> bool:
    """``RuleAllows``: does this one rule grant the request."""
    if not verb_matches(r, verb):
        return False
    if resource_request:
        return (
            group_matches(r, group)
            and resource_matches(r, resource, subresource)
            and name_matches(r, name)
        )
    return url_matches(r, path)


def render(r: Mapping[str, Any]) -> str:
    """A rule as upstream prints it in escalation errors (``PolicyRule.CompactString``)."""
    parts: list[str] = []
    for key, label in (
        ("apiGroups", "APIGroups"),
        ("resources", "Resources"),
        ("resourceNames", "ResourceNames"),
        ("nonResourceURLs", "NonResourceURLs"),
        ("verbs", "Verbs"),
    ):
        values = r.get(key)
        if values:
            parts.append(f"{label}:[" + " ".join(f'"{v}"' for v in values) + "]")
    return "{" + ", ".join(parts) + "}"
