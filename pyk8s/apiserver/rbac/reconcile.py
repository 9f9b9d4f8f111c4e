"""Create (or top up) the bootstrap RBAC policy when the API server starts.

Mirrors ``pkg/registry/rbac/rest/storage_rbac.go`` ``ensureRBACPolicy`` and
``pkg/registry/rbac/reconciliation``: a missing role or binding is created; an
existing one whose ``rbac.authorization.kubernetes.io/autoupdate`` annotation
is not ``"false"`` gets the rules, subjects, labels and annotations it lacks
added (nothing is taken away); one set to ``"false"`` is left alone.
Aggregated roles keep the rules the aggregation controller wrote.
"""

from __future__ import annotations

import asyncio
import copy
import logging
from typing import Any

from pyk8s.api import errors
from pyk8s.apiserver.rbac import covers, policy
from pyk8s.apiserver.registry.generic.store import WriteOptions
from pyk8s.apiserver.registry.rest import REST

log = logging.getLogger(__name__)

MANAGER = "kube-apiserver"
Obj = dict[str, Any]
Rests = dict[tuple[str, str, str], REST]


def _store(rests: Rests, plural: str) -> REST:
    return rests[(policy.GROUP, "v1", plural)]


def _top_up(current: Obj, wanted: Obj) -> Obj | None:
    """``current`` with what ``wanted`` adds, or None when nothing is missing."""
    out = copy.deepcopy(current)
    md = out.setdefault("metadata", {})
    changed = False
    for key in ("labels", "annotations"):
        have = md.get(key) or {}
        for k, v in (wanted["metadata"].get(key) or {}).items():
            if k not in have:
                have[k] = v
                changed = True
        if have:
            md[key] = have
    if "rules" in wanted and "aggregationRule" not in wanted:
        rules = list(out.get("rules") or [])
        for r in wanted["rules"]:
            if covers.uncovered(rules, [r]):
                rules.append(copy.deepcopy(r))
                changed = True
        out["rules"] = rules
    if "aggregationRule" in wanted:
        have_sel = (out.get("aggregationRule") or {}).get("clusterRoleSelectors") or []
        for sel in wanted["aggregationRule"]["clusterRoleSelectors"]:
            if sel not in have_sel:
                have_sel.append(copy.deepcopy(sel))
                changed = True
        out["aggregationRule"] = {"clusterRoleSelectors": have_sel}
    if "roleRef" in wanted:
        subjects = list(out.get("subjects") or [])
        for s in wanted.get("subjects") or []:
            if not any(
                (x.get("kind"), x.get("name"), x.get("namespace", ""))
                == (s["kind"], s["name"], s.get("namespace", ""))
                for x in subjects
            ):
                subjects.append(copy.deepcopy(s))
                changed = True
        if subjects:
            out["subjects"] = subjects
    return out if changed else None


async def _ensure(rest: REST, obj: Obj) -> None:
    md = obj["metadata"]
    ns = md.get("namespace", "")
    try:
        current = await rest.store.get(ns, md["name"])
    except errors.NotFound:
        try:
            await rest.store.create(ns, copy.deepcopy(obj), WriteOptions(field_manager=MANAGER))
            log.debug("created %s %s/%s", obj["kind"], ns, md["name"])
        except errors.AlreadyExists:
            pass
        return
    annotations = (current.get("metadata") or {}).get("annotations") or {}
    if annotations.get(policy.AUTOUPDATE) == "false":
        return
    if "roleRef" in obj and current.get("roleRef") != obj["roleRef"]:
        # roleRef is immutable: upstream deletes and recreates the binding.
        return
    updated = _top_up(current, obj)
    if updated is None:
        return
    try:
        await rest.store.update(ns, md["name"], updated, WriteOptions(field_manager=MANAGER))
        log.info("reconciled %s %s/%s", obj["kind"], ns, md["name"])
    except (errors.Conflict, errors.NotFound) as e:
        log.warning("could not reconcile %s %s: %s", obj["kind"], md["name"], e)


async def ensure_policy(rests: Rests) -> None:
    """Every bootstrap ClusterRole, ClusterRoleBinding, Role and RoleBinding exists.

    The writes go out together (the storage batches them), so a fresh server is
    ready in a fraction of a second."""
    await asyncio.gather(
        *(_ensure(_store(rests, "clusterroles"), o) for o in policy.cluster_roles()),
        *(_ensure(_store(rests, "clusterrolebindings"), o) for o in policy.cluster_role_bindings()),
        *(_ensure(_store(rests, "roles"), o) for o in policy.namespace_roles()),
        *(_ensure(_store(rests, "rolebindings"), o) for o in policy.namespace_role_bindings()),
    )
