"""ControllerRevisions: the history StatefulSets and DaemonSets keep of their templates.

Mirrors ``pkg/controller/history/controller_history.go`` (``NewControllerRevision``,
``HashControllerRevision`` -- FNV-1 of the revision's raw data plus the collision
count, encoded with ``rand.SafeEncodeString`` --, ``ControllerRevisionName``,
``SortControllerRevisions``, ``EqualRevision``, ``FindEqualRevisions``, and
``realHistory``'s create-with-collision-probing, update-revision, adopt and release).

A revision's ``data`` is the patch that restores its parent's template,
``{"spec":{"template":{...,"$patch":"replace"}}}``, laid out as Go's ``json.Marshal``
lays out a map (keys sorted, no spaces, ``<>&`` escaped), because kubectl compares
those bytes with its own rendering of the parent (``rollout undo`` says "skipped"
when they are equal).
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from pyk8s.api import errors
from pyk8s.client import rest
from pyk8s.controllers import ownership

Object = Mapping[str, Any]

CONTROLLER_REVISIONS = rest.for_kind("apps/v1", "ControllerRevision")
HASH_LABEL = "controller.kubernetes.io/hash"
"""The label a revision carries with the hash of its data (``ControllerRevisionHashLabel``)."""

_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


def fnv32(data: bytes) -> int:
    """FNV-1 (multiply, then xor), as Go's ``hash/fnv.New32``."""
    h = 0x811C9DC5
    for b in data:
        h = (h * 0x01000193) & 0xFFFFFFFF
        h ^= b
    return h


def safe_encode(text: str) -> str:
    """``rand.SafeEncodeString``: each character mapped into an alphabet without vowels."""
    return "".join(_ALPHABET[ord(c) % len(_ALPHABET)] for c in text)


def go_json(value: Any) -> bytes:
    """``value`` as Go's ``json.Marshal`` writes a ``map[string]interface{}``."""
    raw = orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    if any(c in raw for c in (b"<", b">", b"&", b"\xe2\x80\xa8", b"\xe2\x80\xa9")):
        raw = (
            raw.replace(b"<", b"\\u003c")
            .replace(b">", b"\\u003e")
            .replace(b"&", b"\\u0026")
            .replace("\u2028".encode(), b"\\u2028")
            .replace("\u2029".encode(), b"\\u2029")
        )
    return raw


def sort_keys(value: Any) -> Any:
    """``value`` with every map's keys in sorted order (how it goes out on the wire)."""
    if isinstance(value, Mapping):
        return {k: sort_keys(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [sort_keys(v) for v in value]
    return value


def hash_revision(data: Any, collision_count: int | None) -> str:
    raw = go_json(data)
    if collision_count is not None:
        raw += str(collision_count).encode()
    return safe_encode(str(fnv32(raw)))


def revision_name(prefix: str, hash_: str) -> str:
    return f"{prefix[:223]}-{hash_}"


_GO_MAPS = frozenset({"labels", "annotations", "nodeSelector", "limits", "requests"})
"""Fields of the pod template that are Go maps: omitted when empty, where structs stay ``{}``."""


def _as_go_types(value: Any) -> Any:
    """``value`` as Go's typed round trip leaves it: empty lists, empty maps and nulls of
    ``omitempty`` fields dropped (structs such as ``resources`` stay ``{}``)."""
    if isinstance(value, Mapping):
        out = {}
        for k, raw in value.items():
            v = _as_go_types(raw)
            if v is None or v == [] or (v == {} and k in _GO_MAPS):
                continue
            out[k] = v
        return out
    if isinstance(value, list):
        return [_as_go_types(v) for v in value]
    return value


def template_patch(parent: Object) -> dict[str, Any]:
    """The patch that restores ``parent``'s pod template (``getPatch``)."""
    template = _as_go_types((parent.get("spec") or {}).get("template") or {})
    # Go's ObjectMeta always writes its zero creationTimestamp as null
    metadata = template["metadata"] = dict(template.get("metadata") or {})
    metadata.setdefault("creationTimestamp", None)
    template["$patch"] = "replace"
    patch: dict[str, Any] = sort_keys({"spec": {"template": template}})
    return patch


def apply_template_patch(parent: Object, data: Object) -> dict[str, Any]:
    """``parent`` with the template ``data`` restores (``ApplyRevision``: a strategic merge
    patch whose template carries ``$patch: replace``)."""
    out = copy.deepcopy(dict(parent))
    template = ((data.get("spec") or {}).get("template")) or {}
    restored = {k: copy.deepcopy(v) for k, v in template.items() if k != "$patch"}
    out["spec"] = {**(out.get("spec") or {}), "template": restored}
    return out


def new_revision(
    parent: Object,
    api_version: str,
    kind: str,
    template_labels: Mapping[str, str] | None,
    data: dict[str, Any],
    revision: int,
    collision_count: int | None,
) -> dict[str, Any]:
    """A revision of ``parent`` holding ``data`` (``NewControllerRevision``)."""
    hash_ = hash_revision(data, collision_count)
    md = parent["metadata"]
    labels = dict(template_labels or {})
    labels[HASH_LABEL] = hash_
    return {
        "apiVersion": "apps/v1",
        "kind": "ControllerRevision",
        "metadata": {
            "name": revision_name(md["name"], hash_),
            "namespace": md.get("namespace", ""),
            "labels": labels,
            "ownerReferences": [ownership.controller_ref(parent, api_version, kind)],
        },
        "data": data,
        "revision": revision,
    }


def revision_of(cr: Object) -> int:
    return int(cr.get("revision") or 0)


def sort_revisions(revisions: Sequence[Object]) -> list[Object]:
    """By ``revision``, then creation time, then name (stable, as ``byRevision``)."""

    def key(cr: Object) -> tuple[int, str, str]:
        md = cr["metadata"]
        return (revision_of(cr), md.get("creationTimestamp") or "", md.get("name") or "")

    return sorted(revisions, key=key)


def equal_revision(a: Object | None, b: Object | None) -> bool:
    """Same data (and the same hash label where both have one)."""
    if a is None or b is None:
        return a is b
    ha = ((a.get("metadata") or {}).get("labels") or {}).get(HASH_LABEL)
    hb = ((b.get("metadata") or {}).get("labels") or {}).get(HASH_LABEL)
    if ha and hb and ha != hb:
        return False
    return go_json(a.get("data")) == go_json(b.get("data"))


def find_equal(revisions: Sequence[Object], needle: Object) -> list[Object]:
    return [cr for cr in revisions if equal_revision(cr, needle)]


def next_revision(sorted_revisions: Sequence[Object]) -> int:
    return revision_of(sorted_revisions[-1]) + 1 if sorted_revisions else 1


class History:
    """Reads and writes of one parent kind's revisions through the API (``realHistory``)."""

    def __init__(self, client: rest.Interface, lister: Any) -> None:
        self.client = client
        self.lister = lister

    def list_for(self, parent: Object, selector: Any) -> list[Object]:
        """Revisions matching ``selector`` that ``parent`` controls or nobody does."""
        uid = parent["metadata"]["uid"]
        out = []
        for cr in self.lister.namespace(parent["metadata"].get("namespace", "")).list(selector):
            ref = ownership.controller_of(cr)
            if ref is None or ref.get("uid") == uid:
                out.append(cr)
        return out

    async def create(
        self, parent: Object, revision: dict[str, Any], collision_count: int
    ) -> tuple[Object, int]:
        """Create ``revision`` under a free name; returns it and the collision count used.

        A namesake with equal data is the same revision; one with other data is a hash
        collision, and the count goes up until a name is free.
        """
        while True:
            hash_ = hash_revision(revision["data"], collision_count)
            body = copy.deepcopy(revision)
            body["metadata"]["name"] = revision_name(parent["metadata"]["name"], hash_)
            body["metadata"]["labels"][HASH_LABEL] = hash_
            ns = parent["metadata"].get("namespace", "")
            try:
                created = await self.client.create(CONTROLLER_REVISIONS, body, ns)
                return created, collision_count
            except errors.AlreadyExists:
                existing = await self.client.get(CONTROLLER_REVISIONS, body["metadata"]["name"], ns)
                if go_json(existing.get("data")) == go_json(body["data"]):
                    return existing, collision_count
                collision_count += 1

    async def update_revision(self, cr: Object, revision: int) -> Object:
        """Give ``cr`` the number ``revision`` (a rollback to it), retrying on conflicts."""
        current: Object = cr
        for _ in range(5):
            if revision_of(current) == revision:
                return current
            body = copy.deepcopy(dict(current))
            body["revision"] = revision
            md = body["metadata"]
            try:
                return await self.client.update(CONTROLLER_REVISIONS, body, md.get("namespace"))
            except errors.Conflict:
                ns = md.get("namespace")
                current = await self.client.get(CONTROLLER_REVISIONS, md["name"], ns)
        raise errors.Conflict(f"could not renumber controllerrevision {cr['metadata']['name']}")

    async def delete(self, cr: Object) -> None:
        md = cr["metadata"]
        with contextlib.suppress(errors.NotFound):
            await self.client.delete(CONTROLLER_REVISIONS, md["name"], md.get("namespace"))

    async def adopt(self, parent: Object, api_version: str, kind: str, cr: Object) -> Object:
        md = cr["metadata"]
        refs = [dict(r) for r in md.get("ownerReferences") or []]
        refs.append(ownership.controller_ref(parent, api_version, kind))
        patch = {"metadata": {"ownerReferences": refs, "uid": md["uid"]}}
        return await self.client.patch(CONTROLLER_REVISIONS, md["name"], patch, md.get("namespace"))
