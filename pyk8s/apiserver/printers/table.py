"""Server-side ``Table`` output (``Accept: application/json;as=Table;v=v1;g=meta.k8s.io``).

Mirrors k8s.io/apiserver ``pkg/registry/rest/table.go`` (the default convertor:
Name and Created At) and ``pkg/printers/tablegenerator.go`` /
``pkg/printers/internalversion/printers.go`` (one handler per kind: column
definitions plus a row function). ``printers/columns.py`` holds the handlers.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from pyk8s.api import meta

Obj = dict[str, Any]


@dataclass(frozen=True)
class Column:
    name: str
    type: str = "string"
    description: str = ""
    priority: int = 0
    format: str = ""

    def definition(self) -> Obj:
        return {
            "name": self.name,
            "type": self.type,
            "format": self.format,
            "description": self.description,
            "priority": self.priority,
        }


RowFunc = Callable[[Obj], list[Any]]


@dataclass(frozen=True)
class Printer:
    columns: Sequence[Column]
    row: RowFunc


NAME = Column("Name", format="name", description="Name must be unique within a namespace.")
AGE = Column("Age", description="CreationTimestamp is the time the object was created.")

DEFAULT = Printer(
    (NAME, Column("Created At", type="date", description="The time the object was created.")),
    lambda o: [name_of(o), (o.get("metadata") or {}).get("creationTimestamp")],
)


def name_of(obj: Obj) -> str:
    return str((obj.get("metadata") or {}).get("name", ""))


def human_duration(d: datetime.timedelta) -> str:
    """``duration.HumanDuration`` from apimachinery: 5s, 2m3s, 5m, 3h5m, 2d, 3y10d."""
    secs = int(d.total_seconds())
    if secs < -1:
        return "<invalid>"
    if secs < 0:
        return "0s"
    if secs < 60 * 2:
        return f"{secs}s"
    minutes = secs // 60
    if minutes < 10:
        s = secs % 60
        return f"{minutes}m" if s == 0 else f"{minutes}m{s}s"
    if minutes < 60 * 3:
        return f"{minutes}m"
    hours = minutes // 60
    if hours < 8:
        m = minutes % 60
        return f"{hours}h" if m == 0 else f"{hours}h{m}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        h = hours % 24
        return f"{hours // 24}d" if h == 0 else f"{hours // 24}d{h}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        dy = (hours // 24) % 365
        return f"{hours // 24 // 365}y" if dy == 0 else f"{hours // 24 // 365}y{dy}d"
    return f"{hours // 24 // 365}y"


def age(timestamp: str | None) -> str:
    if not timestamp:
        return "<unknown>"
    try:
        t = meta.parse_time(timestamp)
    except ValueError:
        return "<unknown>"
    return human_duration(datetime.datetime.now(datetime.UTC) - t)


def partial_metadata(obj: Obj, meta_version: str) -> Obj:
    return {
        "kind": "PartialObjectMetadata",
        "apiVersion": f"meta.k8s.io/{meta_version}",
        "metadata": obj.get("metadata") or {},
    }


def to_table(
    printer: Printer,
    objects: Sequence[Obj],
    *,
    meta_version: str = "v1",
    include_object: str = "Metadata",
    include_headers: bool = True,
    list_metadata: Obj | None = None,
    api_version: str = "",
    kind: str = "",
) -> Obj:
    rows = []
    for obj in objects:
        row: Obj = {"cells": printer.row(obj)}
        if include_object == "Object":
            full = dict(obj)
            if api_version:
                full.setdefault("apiVersion", api_version)
                full.setdefault("kind", kind)
            row["object"] = full
        elif include_object != "None":
            row["object"] = partial_metadata(obj, meta_version)
        rows.append(row)
    return {
        "kind": "Table",
        "apiVersion": f"meta.k8s.io/{meta_version}",
        "metadata": list_metadata or {},
        "columnDefinitions": (
            [c.definition() for c in printer.columns] if include_headers else None
        ),
        "rows": rows,
    }
