"""managedFields bookkeeping for create and update (the non-apply operations).

A reduced form of k8s.io/apiserver ``pkg/endpoints/handlers/fieldmanager``:
each write records, for its manager, an ``Update`` entry with ``apiVersion``,
``time``, ``fieldsType: FieldsV1`` and the set of fields it set. Field sets
here treat lists as atomic (``f:containers: {}``); server-side apply, with the
schema's list types, replaces this module's field sets (issue [openapi]).
"""

from __future__ import annotations

from typing import Any

from pyk8s.api import meta

Obj = dict[str, Any]

_SKIP_META = (
    "managedFields",
    "resourceVersion",
    "uid",
    "creationTimestamp",
    "generation",
    "name",
    "namespace",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "selfLink",
    "generateName",
)


def default_manager(user_agent: str) -> str:
    """Upstream's fallback manager name: the User-Agent up to the first ``/``."""
    name = user_agent.split("/", 1)[0].strip()
    return name[:128] or "unknown"


def field_set(obj: Any, *, top: bool = True) -> Obj:
    """A FieldsV1 tree of the leaves set in ``obj`` (lists atomic)."""
    out: Obj = {}
    if not isinstance(obj, dict):
        return out
    for k, v in obj.items():
        if top and k in ("apiVersion", "kind", "status"):
            continue
        if top and k == "metadata" and isinstance(v, dict):
            sub = field_set({kk: vv for kk, vv in v.items() if kk not in _SKIP_META}, top=False)
            if sub:
                out["f:metadata"] = sub
            continue
        if isinstance(v, dict) and v:
            out[f"f:{k}"] = field_set(v, top=False)
        else:
            out[f"f:{k}"] = {}
    if not top:
        return out
    return out


def _diff(new: Any, old: Any) -> Obj:
    """Fields whose values differ between ``new`` and ``old`` (new side)."""
    out: Obj = {}
    if not isinstance(new, dict):
        return out
    old_d = old if isinstance(old, dict) else {}
    for k, v in new.items():
        ov = old_d.get(k)
        if v == ov:
            continue
        if isinstance(v, dict) and isinstance(ov, dict) and v:
            sub = _diff(v, ov)
            if sub:
                out[f"f:{k}"] = sub
        else:
            out[f"f:{k}"] = field_set(v, top=False) if isinstance(v, dict) else {}
    return out


def _merge(a: Obj, b: Obj) -> Obj:
    out = dict(a)
    for k, v in b.items():
        out[k] = _merge(out[k], v) if k in out and isinstance(out[k], dict) else v
    return out


def _entry(manager: str, api_version: str, fields: Obj, subresource: str) -> Obj:
    e: Obj = {
        "manager": manager,
        "operation": "Update",
        "apiVersion": api_version,
        "time": meta.now(),
        "fieldsType": "FieldsV1",
        "fieldsV1": fields,
    }
    if subresource:
        e["subresource"] = subresource
    return e


def on_create(obj: Obj, manager: str, api_version: str) -> None:
    md = meta.metadata(obj)
    md.pop("managedFields", None)
    if not manager:
        return
    fields = field_set(obj)
    md["managedFields"] = [_entry(manager, api_version, fields, "")]


def on_update(obj: Obj, old: Obj, manager: str, api_version: str, subresource: str) -> None:
    md = meta.metadata(obj)
    old_entries: list[Obj] = list((old.get("metadata") or {}).get("managedFields") or [])
    if "managedFields" in md and md["managedFields"] != old_entries:
        # The client rewrote managedFields (csaupgrade does this): keep what it sent.
        if not md["managedFields"]:
            md.pop("managedFields")
        return
    if not manager:
        if old_entries:
            md["managedFields"] = old_entries
        return
    status_only = subresource == "status"
    view_new = {"status": obj.get("status")} if status_only else obj
    view_old = {"status": old.get("status")} if status_only else old
    changed = _diff(
        {k: v for k, v in view_new.items() if k not in ("apiVersion", "kind")},
        {k: v for k, v in view_old.items() if k not in ("apiVersion", "kind")},
    )
    if isinstance(changed.get("f:metadata"), dict):
        changed["f:metadata"] = {
            k: v for k, v in changed["f:metadata"].items() if k[2:] not in _SKIP_META
        }
        if not changed["f:metadata"]:
            del changed["f:metadata"]
    entries: list[Obj] = []
    mine: Obj | None = None
    for e in old_entries:
        if (
            e.get("manager") == manager
            and e.get("operation") == "Update"
            and e.get("subresource", "") == subresource
        ):
            mine = e
        else:
            entries.append(e)
    if mine is None and not changed:
        if old_entries:
            md["managedFields"] = old_entries
        return
    fields = _merge(mine.get("fieldsV1", {}) if mine else {}, changed)
    entries.append(_entry(manager, api_version, fields, subresource))
    md["managedFields"] = entries
