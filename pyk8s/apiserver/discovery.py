"""Discovery documents, legacy and aggregated, from the one resource table.

Mirrors k8s.io/apiserver ``pkg/endpoints/discovery`` (``APIVersions`` at
``/api``, ``APIGroupList`` at ``/apis``, ``APIGroup`` and ``APIResourceList``
per group and version) and ``discovery/aggregated`` (``APIGroupDiscoveryList``
of ``apidiscovery.k8s.io/v2``, served when the client's Accept asks for it).
"""

from __future__ import annotations

from typing import Any

from pyk8s.api import scheme

Obj = dict[str, Any]

AGGREGATED_CONTENT_TYPE = "application/json;g=apidiscovery.k8s.io;v={v};as=APIGroupDiscoveryList"


def api_versions(server_address: str) -> Obj:
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [
            {"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}
        ],
    }


def _group_doc(table: scheme.Scheme, group: str) -> Obj:
    versions = [{"groupVersion": f"{group}/{v}", "version": v} for v in table.versions_of(group)]
    return {"name": group, "versions": versions, "preferredVersion": versions[0]}


def api_group_list(table: scheme.Scheme) -> Obj:
    return {
        "kind": "APIGroupList",
        "apiVersion": "v1",
        "groups": [_group_doc(table, g) for g in table.groups()],
    }


def api_group(table: scheme.Scheme, group: str) -> Obj | None:
    if group not in table.groups():
        return None
    return {"kind": "APIGroup", "apiVersion": "v1", **_group_doc(table, group)}


def api_resource_list(table: scheme.Scheme, group: str, version: str) -> Obj | None:
    resources = table.in_group_version(group, version)
    if not resources:
        return None
    out: list[Obj] = []
    for r in sorted(resources, key=lambda r: r.plural):
        entry: Obj = {
            "name": r.plural,
            "singularName": r.singular,
            "namespaced": r.namespaced,
            "kind": r.kind,
            "verbs": list(r.verbs),
        }
        if r.short_names:
            entry["shortNames"] = list(r.short_names)
        if r.categories:
            entry["categories"] = list(r.categories)
        if r.stored:
            entry["storageVersionHash"] = r.storage_version_hash
        out.append(entry)
        for s in r.subresources:
            sub: Obj = {
                "name": f"{r.plural}/{s.name}",
                "singularName": "",
                "namespaced": r.namespaced,
                "kind": s.kind,
                "verbs": list(s.verbs),
            }
            if s.group:
                sub["group"] = s.group
                sub["version"] = s.version
            out.append(sub)
    out.sort(key=lambda e: e["name"])
    gv = f"{group}/{version}" if group else version
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": out}


def _aggregated_resource(r: scheme.Resource) -> Obj:
    entry: Obj = {
        "resource": r.plural,
        "responseKind": {"group": r.group, "version": r.version, "kind": r.kind},
        "scope": "Namespaced" if r.namespaced else "Cluster",
        "singularResource": r.singular,
        "verbs": list(r.verbs),
    }
    if r.short_names:
        entry["shortNames"] = list(r.short_names)
    if r.categories:
        entry["categories"] = list(r.categories)
    if r.subresources:
        entry["subresources"] = [
            {
                "subresource": s.name,
                "responseKind": {
                    "group": s.group if s.group else r.group,
                    "version": s.version if s.version else r.version,
                    "kind": s.kind,
                },
                "verbs": list(s.verbs),
            }
            for s in r.subresources
        ]
    return entry


def aggregated(table: scheme.Scheme, *, legacy: bool, version: str = "v2") -> Obj:
    """``/api`` (legacy=True: the core group only) or ``/apis`` in aggregated form."""
    items: list[Obj] = []
    groups = [""] if legacy else table.groups()
    for g in groups:
        versions = []
        for v in table.versions_of(g):
            res = sorted(table.in_group_version(g, v), key=lambda r: r.plural)
            versions.append(
                {
                    "version": v,
                    "resources": [_aggregated_resource(r) for r in res],
                    "freshness": "Current",
                }
            )
        items.append({"metadata": {"name": g, "creationTimestamp": None}, "versions": versions})
    return {
        "kind": "APIGroupDiscoveryList",
        "apiVersion": f"apidiscovery.k8s.io/{version}",
        "metadata": {},
        "items": items,
    }
