"""Whether one set of rules grants everything another set grants.

Mirrors ``pkg/registry/rbac/validation/policy_comparator.go`` (``Covers``:
each requested rule is broken down into single verb/group/resource/name
units, each of which some owner rule must cover; wildcards cover everything,
``*/sub`` covers that subresource of every resource, and a rule with resource
names never covers a rule without them). Used by the escalation check and by
the bootstrap reconciler.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pyk8s.apiserver.rbac.rules import Rule


def breakdown(r: Mapping[str, Any]) -> list[Rule]:
    """One rule per verb x group x resource x name (or per verb x URL)."""
    verbs = list(r.get("verbs") or ())
    out: list[Rule] = []
    if r.get("nonResourceURLs"):
        for url in r["nonResourceURLs"]:
            for v in verbs:
                out.append({"nonResourceURLs": [url], "verbs": [v]})
        return out
    names = list(r.get("resourceNames") or ()) or [None]
    for g in r.get("apiGroups") or ():
        for res in r.get("resources") or ():
            for v in verbs:
                for n in names:
                    unit: Rule = {"apiGroups": [g], "resources": [res], "verbs": [v]}
                    if n is not None:
                        unit["resourceNames"] = [n]
                    out.append(unit)
    return out


def _has(values: Iterable[str], v: str) -> bool:
    vals = list(values)
    return "*" in vals or v in vals


def _resource_covered(owner: Iterable[str], res: str) -> bool:
    for o in owner:
        if o in ("*", res):
            return True
        if o.startswith("*/") and "/" in res and res.split("/", 1)[1] == o[2:]:
            return True
        if o.endswith("/*") and res.startswith(o[:-1]):
            return True
    return False


def _url_covered(owner: Iterable[str], url: str) -> bool:
    for o in owner:
        if o in ("*", url):
            return True
        if o.endswith("*") and url.startswith(o[:-1]):
            return True
    return False


def unit_covered(owner: Mapping[str, Any], unit: Mapping[str, Any]) -> bool:
    verb = unit["verbs"][0]
    if not _has(owner.get("verbs") or (), verb):
        return False
    if unit.get("nonResourceURLs"):
        return _url_covered(owner.get("nonResourceURLs") or (), unit["nonResourceURLs"][0])
    if owner.get("nonResourceURLs") and not owner.get("resources"):
        return False
    if not _has(owner.get("apiGroups") or (), unit["apiGroups"][0]):
        return False
    if not _resource_covered(owner.get("resources") or (), unit["resources"][0]):
        return False
    owner_names = owner.get("resourceNames") or ()
    if not owner_names:
        return True
    names: list[str] = list(unit.get("resourceNames") or [])
    return bool(names) and names[0] in owner_names


def uncovered(
    owner_rules: Sequence[Mapping[str, Any]], rules: Iterable[Mapping[str, Any]]
) -> list[Rule]:
    """The units of ``rules`` that no rule of ``owner_rules`` covers (empty: covered)."""
    missing: list[Rule] = []
    for r in rules:
        for unit in breakdown(r):
            if not any(unit_covered(o, unit) for o in owner_rules):
                missing.append(unit)
    return missing
