"""The ownership graph: every monitored object by uid, with its owners and dependents.

Mirrors ``pkg/controller/garbagecollector/graph.go`` (``node``: identity, owners,
dependents, ``deletingDependents``, ``beingDeleted``) and the part of
``graph_builder.go`` that keeps it current from informer events (``processGraphChanges``:
insert, update with owner diffs, delete). Owners never observed have no node;
their dependents are still indexed under their uid.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pyk8s.client import rest

ORPHAN = "orphan"
FOREGROUND = "foregroundDeletion"


@dataclass
class Node:
    uid: str
    ref: rest.ResourceRef
    namespace: str
    name: str
    owners: list[Mapping[str, Any]] = field(default_factory=list)
    deleting: bool = False
    finalizers: tuple[str, ...] = ()

    @property
    def waiting_for_dependents(self) -> bool:
        """Deleted in the foreground: it stays until its blocking dependents are gone."""
        return self.deleting and FOREGROUND in self.finalizers

    def owner_ref(self, owner_uid: str) -> Mapping[str, Any] | None:
        return next((r for r in self.owners if r.get("uid") == owner_uid), None)


def node_of(ref: rest.ResourceRef, obj: Mapping[str, Any]) -> Node:
    md = obj["metadata"]
    return Node(
        uid=md["uid"],
        ref=ref,
        namespace=md.get("namespace") or "",
        name=md["name"],
        owners=list(md.get("ownerReferences") or []),
        deleting=bool(md.get("deletionTimestamp")),
        finalizers=tuple(md.get("finalizers") or ()),
    )


class Graph:
    def __init__(self) -> None:
        self.nodes: dict[str, Node] = {}
        self._dependents: dict[str, set[str]] = {}

    def get(self, uid: str) -> Node | None:
        return self.nodes.get(uid)

    def dependents(self, uid: str) -> list[Node]:
        return [self.nodes[d] for d in self._dependents.get(uid, ()) if d in self.nodes]

    def upsert(self, node: Node) -> set[str]:
        """Store ``node``; returns the uids of owners it gained or lost."""
        old = self.nodes.get(node.uid)
        old_owners = {r.get("uid") for r in (old.owners if old else [])}
        new_owners = {r.get("uid") for r in node.owners}
        for uid in old_owners - new_owners:
            if uid:
                self._unlink(uid, node.uid)
        for uid in new_owners - old_owners:
            if uid:
                self._dependents.setdefault(uid, set()).add(node.uid)
        self.nodes[node.uid] = node
        return {u for u in old_owners ^ new_owners if u}

    def remove(self, uid: str) -> Node | None:
        node = self.nodes.pop(uid, None)
        if node is not None:
            for ref in node.owners:
                if ref.get("uid"):
                    self._unlink(ref["uid"], uid)
        return node

    def _unlink(self, owner: str, dependent: str) -> None:
        deps = self._dependents.get(owner)
        if deps is not None:
            deps.discard(dependent)
            if not deps:
                del self._dependents[owner]
