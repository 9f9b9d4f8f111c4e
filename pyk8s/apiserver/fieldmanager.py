"""managedFields: who owns which field, for updates and for server-side apply.

Mirrors k8s.io/apiserver ``pkg/endpoints/handlers/fieldmanager`` (and the
``merge.Updater`` of structured-merge-diff it drives):

- a manager is (name, operation, subresource, and for ``Update`` the apiVersion);
  its entry keeps a FieldsV1 set;
- an **update** (create, PUT, the non-apply patches) gives its manager the fields
  it added or changed, and takes them, and the fields it removed, from everyone
  else (``Updater.Update``);
- an **apply** merges the configuration into the live object; fields another
  manager owns and the apply would change are conflicts unless forced (forced,
  they move to the applier); fields the applier applied before and no longer
  applies are removed when nobody else owns them; the applier then owns exactly
  what it applied, and an identical value stays owned by both
  (``Updater.Apply``);
- ``kubectl``'s applies upgrade from client-side apply: conflicts on fields named
  in ``last-applied-configuration`` are allowed, and that annotation follows the
  applied configuration (``lastAppliedManager``, ``lastAppliedUpdater``);
- timestamps move only when a manager's fields change, and a write that changes
  nothing keeps managedFields as they were, so it stays a no-op
  (``IgnoreManagedFieldsTimestampsTransformer``); at most 10 ``Update`` managers
  are kept, the oldest merged into ``ancient-changes`` (``capManagersManager``).
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import orjson

from pyk8s.api import errors, meta, structuredmerge
from pyk8s.api.strategicpatch import Schema
from pyk8s.api.structuredmerge import Path

Obj = dict[str, Any]

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
MAX_UPDATE_MANAGERS = 10
ANCIENT = "ancient-changes"


def default_manager(user_agent: str) -> str:
    """Upstream's fallback manager name: the User-Agent up to the first ``/``."""
    name = user_agent.split("/", 1)[0].strip()
    return name[:128] or "unknown"


class Manager:
    """One managedFields entry. Its FieldsV1 is decoded into paths only when asked for
    (most writes touch few managers), and re-encoded only when its paths changed."""

    def __init__(
        self,
        manager: str,
        operation: str,
        api_version: str,
        subresource: str,
        fields: set[Path] | None,
        time: str | None = None,
        raw: Any = None,
    ) -> None:
        self.manager = manager
        self.operation = operation
        self.api_version = api_version
        self.subresource = subresource
        self.time = time
        self._fields = fields
        self._raw = raw if fields is None else None  # FieldsV1 of _fields, when known

    @property
    def fields(self) -> set[Path]:
        if self._fields is None:
            self._fields = structuredmerge.from_fields_v1(self._raw)
        return self._fields

    @fields.setter
    def fields(self, value: set[Path]) -> None:
        self._fields = value
        self._raw = None

    def copy(self) -> Manager:
        m = Manager(self.manager, self.operation, self.api_version, self.subresource, None,
                    self.time, self._raw)  # fmt: skip
        m._fields = set(self._fields) if self._fields is not None else None
        return m

    def owns(self, path: Path) -> bool:
        if self._fields is not None:
            return path in self._fields
        node = self._raw
        for kind, name in path:
            if not isinstance(node, dict):
                return False
            node = node.get(f"{kind}:{name}")
            if node is None:
                return False
        return isinstance(node, dict) and (not node or "." in node)

    def add(self, paths: set[Path]) -> None:
        """Own ``paths`` too; an encoded FieldsV1 takes them in place of a decode and a
        re-encode of every path."""
        if self._fields is not None:
            fresh = paths - self._fields
            if fresh:
                self._fields |= fresh
                if self._raw is not None:
                    self._raw = structuredmerge.insert_fields_v1(self._raw, fresh)
            return
        missing = [p for p in paths if not self.owns(p)]
        if missing:
            self._raw = structuredmerge.insert_fields_v1(self._raw or {}, missing)

    def owns_any(self, paths: Iterable[Path]) -> bool:
        return any(self.owns(p) for p in paths)

    def raw_equals(self, raw: Any) -> bool:
        return self._raw is not None and bool(self._raw == raw)

    def set_encoded(self, fields: set[Path], raw: Any) -> None:
        """Set the paths and their FieldsV1 at once (no re-encoding)."""
        self._fields = fields
        self._raw = raw

    def nonempty(self) -> bool:
        return bool(self._fields) if self._fields is not None else bool(self._raw)

    def same_fields(self, other: Manager) -> bool:
        if self._raw is not None and other._raw is not None:
            return bool(self._raw == other._raw)
        return self.fields == other.fields

    @property
    def ident(self) -> tuple[str, str, str, str]:
        version = "" if self.operation == "Apply" else self.api_version
        return (self.manager, self.operation, self.subresource, version)

    def describe(self) -> str:
        """``printManager``: how a conflict names this manager."""
        out = orjson.dumps(self.manager).decode()
        if self.subresource:
            out += f" with subresource {orjson.dumps(self.subresource).decode()}"
        if self.operation == "Update":
            out += f" using {self.api_version}"
        return out

    def entry(self) -> Obj:
        e: Obj = {"manager": self.manager, "operation": self.operation}
        e["apiVersion"] = self.api_version
        if self.time:
            e["time"] = self.time
        e["fieldsType"] = "FieldsV1"
        e["fieldsV1"] = (
            self._raw if self._raw is not None else structuredmerge.to_fields_v1(self.fields)
        )
        if self.subresource:
            e["subresource"] = self.subresource
        return e


def decode(entries: Any) -> list[Manager]:
    out: dict[tuple[str, str, str, str], Manager] = {}
    if not isinstance(entries, list):
        return []
    for e in entries:
        if not isinstance(e, dict) or (not e.get("manager") and not e.get("fieldsV1")):
            continue
        m = Manager(
            manager=str(e.get("manager", "")),
            operation=str(e.get("operation", "Update")),
            api_version=str(e.get("apiVersion", "")),
            subresource=str(e.get("subresource", "")),
            fields=None,
            time=e.get("time"),
            raw=e.get("fieldsV1") or {},
        )
        if m.ident in out:
            out[m.ident].fields |= m.fields
        else:
            out[m.ident] = m
    return list(out.values())


def encode(managers: Iterable[Manager]) -> list[Obj]:
    """Entries in upstream's order: Apply before Update, then by time, manager, version."""
    kept = [m for m in managers if m.nonempty()]
    kept.sort(key=lambda m: (m.operation, m.time or "", m.manager, m.api_version, m.subresource))
    return [m.entry() for m in kept]


def _compare(
    old: Obj, new: Obj, subresource: str, schema: Schema | None
) -> structuredmerge.Comparison:
    if subresource != "status":
        return structuredmerge.compare(old, new, schema)
    sub = schema.field("status")[0] if schema is not None else None
    inner = structuredmerge.Comparison()
    status = structuredmerge.compare(
        _wrap(old.get("status")), _wrap(new.get("status")), _Wrap.schema(sub)
    )
    for attr in ("added", "modified", "removed"):
        setattr(inner, attr, {(("f", "status"), *p[1:]) for p in getattr(status, attr)})
    return inner


class _Wrap:
    """Status compared as a top-level field ``x`` (strip() drops a top-level ``status``)."""

    @staticmethod
    def schema(sub: Schema | None) -> Schema | None:
        if sub is None:
            return None
        return Schema({"properties": {"x": sub.node}}, sub.defs)


def _wrap(value: Any) -> Obj:
    return {} if value is None else {"x": value}


def _update_others(
    managers: list[Manager], me: tuple[str, str, str, str], c: structuredmerge.Comparison
) -> None:
    """``Updater.update`` with force: changed and removed fields leave other managers."""
    gone = c.changed() | c.removed
    if not gone:
        return
    for m in managers:
        if m.ident != me and m.owns_any(gone):
            m.fields = m.fields - gone


def _restore_times(new: list[Manager], old: list[Manager]) -> None:
    before = {m.ident: m for m in old}
    for m in new:
        prev = before.get(m.ident)
        if prev is not None and prev.same_fields(m):
            m.time = prev.time


def _cap(managers: list[Manager]) -> list[Manager]:
    updates = [m for m in managers if m.operation == "Update"]
    if len(updates) <= MAX_UPDATE_MANAGERS:
        return managers
    updates.sort(key=lambda m: m.time or "")
    extra = len(updates) - MAX_UPDATE_MANAGERS + 1
    oldest = updates[:extra]
    drop = {id(m) for m in oldest}
    ancient = next((m for m in managers if m.manager == ANCIENT and m.operation == "Update"), None)
    if ancient is not None and id(ancient) not in drop:
        oldest = updates[: extra - 1] or updates[:1]
        drop = {id(m) for m in oldest}
    merged: set[Path] = set()
    for m in oldest:
        merged |= m.fields
    kept = [m for m in managers if id(m) not in drop]
    target = next((m for m in kept if m.manager == ANCIENT and m.operation == "Update"), None)
    if target is None:
        target = Manager(ANCIENT, "Update", oldest[-1].api_version, "", set(), oldest[-1].time)
        kept.append(target)
    target.fields |= merged
    return kept


def _finish(obj: Obj, old: Obj | None, managers: list[Manager], before: list[Manager]) -> None:
    md = meta.metadata(obj)
    managers = _cap(managers)
    entries = encode(managers)
    old_entries = (old or {}).get("metadata", {}).get("managedFields")
    if old is not None and isinstance(old_entries, list):
        unchanged = {k: v for k, v in obj.items() if k != "metadata"} == {
            k: v for k, v in old.items() if k != "metadata"
        } and {k: v for k, v in md.items() if k not in ("managedFields", "resourceVersion")} == {
            k: v
            for k, v in old["metadata"].items()
            if k not in ("managedFields", "resourceVersion")
        }
        if unchanged:
            _restore_times(managers, before)
            entries = encode(managers)
            if [_untimed(e) for e in entries] == [_untimed(e) for e in old_entries]:
                entries = old_entries
    if entries:
        md["managedFields"] = entries
    else:
        md.pop("managedFields", None)


def _untimed(e: Any) -> Any:
    return {k: v for k, v in e.items() if k != "time"} if isinstance(e, dict) else e


def on_create(obj: Obj, manager: str, api_version: str, schema: Schema | None = None) -> None:
    """A create is an update from nothing."""
    md = meta.metadata(obj)
    md.pop("managedFields", None)
    if not manager:
        return
    raw = structuredmerge.added_fields_v1(obj, schema)
    _finish(obj, None, [Manager(manager, "Update", api_version, "", None, meta.now(), raw)], [])


def on_update(
    obj: Obj,
    old: Obj,
    manager: str,
    api_version: str,
    subresource: str,
    schema: Schema | None = None,
) -> None:
    """``FieldManager.Update``: track ``manager``'s changes from ``old`` to ``obj``."""
    md = meta.metadata(obj)
    sent = md.pop("managedFields", None)
    old_entries = old.get("metadata", {}).get("managedFields")
    before = decode(old_entries)
    # A client may rewrite managedFields (kubectl's client-side to server-side apply
    # migration does): what it sent is the starting point, unless it sent nothing.
    base = before
    if sent and not subresource and sent != old_entries:
        base = decode(sent)
    managers = [m.copy() for m in base]
    if not manager:
        _finish(obj, old, managers, before)
        return
    c = _compare(old, obj, subresource, schema)
    _update_others(managers, ("", "", "", ""), c)
    mine = Manager(manager, "Update", api_version, subresource, c.changed(), None)
    if mine.fields:
        prev = next((m for m in managers if m.ident == mine.ident), None)
        if prev is None:
            managers.append(mine)
            prev = mine
        else:
            prev.add(c.changed())
        prev.time = meta.now()
    managers = [m for m in managers if m.nonempty()]
    _finish(obj, old, managers, before)


# -- server-side apply


@dataclass
class ConflictItem:
    manager: Manager
    path: Path


def conflict_error(found: list[ConflictItem]) -> errors.Conflict:
    """``NewConflictError``: 409 with one ``FieldManagerConflict`` cause per field."""
    found = sorted(found, key=lambda c: (c.manager.describe(), c.path))
    causes = [
        {
            "reason": "FieldManagerConflict",
            "message": f"conflict with {c.manager.describe()}",
            "field": structuredmerge.path_string(c.path),
        }
        for c in found
    ]
    if len(found) == 1:
        c = found[0]
        msg = (
            f"Apply failed with 1 conflict: conflict with {c.manager.describe()}: "
            f"{structuredmerge.path_string(c.path)}"
        )
    else:
        lines: list[str] = []
        last = ""
        for c in found:
            who = c.manager.describe()
            if who != last:
                lines.append(f"conflicts with {who}:")
                last = who
            lines.append(f"- {structuredmerge.path_string(c.path)}")
        msg = f"Apply failed with {len(found)} conflicts: " + "\n".join(lines)
    return errors.Conflict(msg, details={"causes": causes})


def _last_applied_set(live: Obj, schema: Schema | None) -> set[Path] | None:
    text = ((live.get("metadata") or {}).get("annotations") or {}).get(LAST_APPLIED)
    if not text:
        return None
    try:
        last = orjson.loads(text)
    except orjson.JSONDecodeError:
        return None
    return structuredmerge.field_set(last, schema) if isinstance(last, dict) else None


def apply(
    live: Obj | None,
    applied: Obj,
    manager: str,
    api_version: str,
    schema: Schema | None,
    *,
    force: bool,
    subresource: str = "",
) -> Obj:
    """``FieldManager.Apply``: the object to store, with its managedFields set.

    Raises :class:`errors.Conflict` listing the conflicts when not forced.
    """
    exists = live is not None
    current: Obj = live if live is not None else {}  # read only
    before = decode((current.get("metadata") or {}).get("managedFields")) if exists else []
    config = {k: v for k, v in applied.items() if k not in ("apiVersion", "kind")}
    cmd = dict(config.get("metadata") or {})
    for k in ("name", "namespace", "resourceVersion", "uid", "managedFields"):
        cmd.pop(k, None)
    config["metadata"] = cmd
    if subresource == "status":
        config = {"status": config["status"]} if "status" in config else {}
    merged: Obj = structuredmerge.merge(current, config, schema)
    mine_id = (manager, "Apply", subresource, "")
    applied_set = (
        {p for p in structuredmerge.field_set(config, schema)}
        if subresource != "status"
        else {(("f", "status"), *p[1:]) for p in _status_field_set(config, schema)}
    )
    managers = [m.copy() for m in before]
    last = next((m for m in managers if m.ident == mine_id), None)
    applied_raw = structuredmerge.to_fields_v1(applied_set)
    # the same configuration as last time: nothing dropped, nothing to decode
    same_as_last = last is not None and last.raw_equals(applied_raw)
    last_set = set() if last is None or same_as_last else set(last.fields)
    c = _compare(current, merged, subresource, schema)
    changed = c.changed()
    found = [
        ConflictItem(m, p)
        for m in managers
        if m.ident != mine_id
        for p in sorted(changed)
        if m.owns(p)
    ]
    if found and not force:
        allowed = _last_applied_set(current, schema) if manager == "kubectl" else None
        if allowed is None or any(f.path not in allowed for f in found):
            if allowed is not None:
                found = [f for f in found if f.path not in allowed]
            raise conflict_error(found)
    _update_others(managers, mine_id, c)
    if last is None:
        last = Manager(manager, "Apply", api_version, subresource, set(), None)
        managers.append(last)
    if not same_as_last:
        last.set_encoded(applied_set, applied_raw)
    last.api_version = api_version
    # Prune: what this manager applied before, applies no more, and nobody else owns.
    dropped = last_set - applied_set
    if dropped:
        owned: set[Path] = set()
        for m in managers:
            owned |= m.fields
        gone = dropped - owned
        if gone:
            merged = copy.deepcopy(merged)  # merge shares untouched subtrees with live
            structuredmerge.remove(merged, gone, keep=owned)
    if manager == "kubectl" and LAST_APPLIED in (
        (merged.get("metadata") or {}).get("annotations") or {}
    ):
        merged["metadata"] = md = dict(merged["metadata"])
        md["annotations"] = {**md["annotations"], LAST_APPLIED: _last_applied(applied)}
    last.time = meta.now()  # put back by _finish when nothing changed
    managers = [m for m in managers if m.nonempty()]
    merged["apiVersion"], merged["kind"] = applied["apiVersion"], applied["kind"]
    md = merged.setdefault("metadata", {})
    md.pop("managedFields", None)
    _finish(merged, live, managers, before)
    return merged


def _status_field_set(config: Obj, schema: Schema | None) -> set[Path]:
    sub = schema.field("status")[0] if schema is not None else None
    return structuredmerge.field_set(_wrap(config.get("status")), _Wrap.schema(sub))


def _last_applied(applied: Obj) -> str:
    doc = copy.deepcopy(applied)
    annotations = (doc.get("metadata") or {}).get("annotations")
    if isinstance(annotations, dict):
        annotations.pop(LAST_APPLIED, None)
        if not annotations:
            del doc["metadata"]["annotations"]
    return orjson.dumps(doc, option=orjson.OPT_SORT_KEYS).decode() + "\n"
