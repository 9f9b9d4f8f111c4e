"""Discovery of the aggregated group-versions, merged into the server's own.

Mirrors kube-aggregator's ``pkg/apiserver/handler_apis.go`` (``/apis`` lists every group
of an Available APIService, ordered by ``groupPriorityMinimum`` then name, versions by
``versionPriority``), ``handler_discovery.go`` (aggregated discovery: the extension
server's ``APIResourceList`` converted to ``APIVersionDiscovery``, as
``discoveryendpoint.ConvertGroupVersionIntoToDiscovery`` does) and ``/apis/<group>``
answered from the APIServices.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

Obj = dict[str, Any]


@dataclass
class GroupVersion:
    """One Available aggregated group-version and what its server said it serves."""

    group: str
    version: str
    group_priority: int
    version_priority: int
    resources: Obj = field(default_factory=dict)
    """The extension server's ``APIResourceList`` (empty until fetched)."""


_KUBE_VERSION = re.compile(r"^v(\d+)(?:(alpha|beta)(\d+))?$")


def version_key(version: str) -> tuple[int, int, int, str]:
    """Sort key of Kubernetes versions: GA before beta before alpha, then higher first
    (``version.CompareKubeAwareVersionStrings``); other strings last, by name."""
    m = _KUBE_VERSION.match(version)
    if m is None:
        return (3, 0, 0, version)
    rank = {None: 0, "beta": 1, "alpha": 2}[m.group(2)]
    return (rank, -int(m.group(1)), -int(m.group(3) or 0), "")


def _sorted_versions(gvs: list[GroupVersion]) -> list[GroupVersion]:
    return sorted(gvs, key=lambda gv: (-gv.version_priority, version_key(gv.version)))


def by_group(gvs: list[GroupVersion]) -> list[tuple[str, list[GroupVersion]]]:
    groups: dict[str, list[GroupVersion]] = {}
    for gv in gvs:
        groups.setdefault(gv.group, []).append(gv)
    order = sorted(groups, key=lambda g: (-max(v.group_priority for v in groups[g]), g))
    return [(g, _sorted_versions(groups[g])) for g in order]


def group_doc(group: str, versions: list[GroupVersion]) -> Obj:
    vs = [{"groupVersion": f"{group}/{v.version}", "version": v.version} for v in versions]
    return {"name": group, "versions": vs, "preferredVersion": vs[0]}


def _split(name: str) -> tuple[str, str]:
    main, _, sub = name.partition("/")
    return main, sub


def version_discovery(gv: GroupVersion) -> Obj:
    """``APIVersionDiscovery`` from the extension's ``APIResourceList``."""
    resources: dict[str, Obj] = {}
    subs: list[tuple[str, Obj]] = []
    for r in gv.resources.get("resources") or []:
        name, sub = _split(str(r.get("name", "")))
        if sub:
            subs.append((name, r))
            continue
        entry: Obj = {
            "resource": name,
            "responseKind": {
                "group": r.get("group", gv.group),
                "version": r.get("version", gv.version),
                "kind": r.get("kind", ""),
            },
            "scope": "Namespaced" if r.get("namespaced") else "Cluster",
            "singularResource": r.get("singularName") or "",
            "verbs": list(r.get("verbs") or []),
        }
        for key in ("shortNames", "categories"):
            if r.get(key):
                entry[key] = list(r[key])
        resources[name] = entry
    for parent, r in subs:
        owner = resources.get(parent)
        if owner is None:
            continue
        owner.setdefault("subresources", []).append(
            {
                "subresource": _split(str(r["name"]))[1],
                "responseKind": {
                    "group": r.get("group", gv.group),
                    "version": r.get("version", gv.version),
                    "kind": r.get("kind", ""),
                },
                "verbs": list(r.get("verbs") or []),
            }
        )
    return {
        "version": gv.version,
        "resources": [resources[k] for k in sorted(resources)],
        "freshness": "Current" if gv.resources else "Stale",
    }


def extend_group_list(doc: Obj, gvs: list[GroupVersion]) -> Obj:
    known = {g.get("name") for g in doc.get("groups") or []}
    extra = [group_doc(g, vs) for g, vs in by_group(gvs) if g not in known]
    return {**doc, "groups": [*(doc.get("groups") or []), *extra]}


def extend_aggregated(doc: Obj, gvs: list[GroupVersion]) -> Obj:
    known = {(i.get("metadata") or {}).get("name") for i in doc.get("items") or []}
    extra = [
        {
            "metadata": {"name": g, "creationTimestamp": None},
            "versions": [version_discovery(v) for v in vs],
        }
        for g, vs in by_group(gvs)
        if g not in known
    ]
    return {**doc, "items": [*(doc.get("items") or []), *extra]}
