"""Conversion between ``events.k8s.io/v1`` Events and core ``v1`` Events.

Both APIs serve one store (core v1 is the storage version). Mirrors
``pkg/apis/events/v1/conversion.go``: ``regarding`` is ``involvedObject``,
``note`` is ``message``, ``reportingController`` is ``reportingComponent``,
and the ``deprecated*`` fields are core's ``source``, ``firstTimestamp``,
``lastTimestamp`` and ``count``.
"""

from __future__ import annotations

from typing import Any

Obj = dict[str, Any]

# events.k8s.io/v1 name -> core/v1 name
_RENAMES = {
    "regarding": "involvedObject",
    "note": "message",
    "reportingController": "reportingComponent",
    "deprecatedSource": "source",
    "deprecatedFirstTimestamp": "firstTimestamp",
    "deprecatedLastTimestamp": "lastTimestamp",
    "deprecatedCount": "count",
}
_SAME = ("metadata", "eventTime", "series", "reportingInstance", "action", "reason", "related",
         "type")  # fmt: skip
_BACK = {v: k for k, v in _RENAMES.items()}


def to_core(obj: Obj) -> Obj:
    out: Obj = {"apiVersion": "v1", "kind": "Event"}
    for k, v in obj.items():
        if k in ("apiVersion", "kind"):
            continue
        out[_RENAMES.get(k, k)] = v
    return out


def from_core(obj: Obj) -> Obj:
    out: Obj = {"apiVersion": "events.k8s.io/v1", "kind": "Event"}
    for k, v in obj.items():
        if k in ("apiVersion", "kind"):
            continue
        if k in _BACK:
            out[_BACK[k]] = v
        elif k in _SAME:
            out[k] = v
    return out
