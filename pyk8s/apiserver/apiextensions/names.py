"""CRD status: accepted names and the ``NamesAccepted`` / ``Established`` conditions.

Mirrors ``apiextensions-apiserver/pkg/controller/status/naming_controller.go``
(``calculateNamesAndConditions``: a name another CRD of the group already
holds is not accepted; ``PluralConflict``, ``SingularConflict``,
``ShortNamesConflict``, ``KindConflict``, ``ListKindConflict``),
``pkg/controller/establish/establishing_controller.go`` (``Established``
once the names are accepted) and ``pkg/apihelpers`` (``SetCRDCondition``:
``lastTransitionTime`` moves only when the status does).
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

from pyk8s.api import meta

Obj = dict[str, Any]

NAMES_ACCEPTED = "NamesAccepted"
ESTABLISHED = "Established"
TERMINATING = "Terminating"


def find_condition(crd: Obj, ctype: str) -> Obj | None:
    for c in (crd.get("status") or {}).get("conditions") or []:
        if c.get("type") == ctype:
            return dict(c)
    return None


def is_true(crd: Obj, ctype: str) -> bool:
    c = find_condition(crd, ctype)
    return c is not None and c.get("status") == "True"


def set_condition(crd: Obj, cond: Obj) -> None:
    """Replace the condition of ``cond``'s type; a changed status gets a new transition time."""
    status = crd.setdefault("status", {})
    conds: list[Obj] = list(status.get("conditions") or [])
    for i, old in enumerate(conds):
        if old.get("type") != cond["type"]:
            continue
        new = dict(cond)
        if old.get("status") == cond.get("status") and old.get("lastTransitionTime"):
            new["lastTransitionTime"] = old["lastTransitionTime"]
        else:
            new.setdefault("lastTransitionTime", meta.now())
        conds[i] = new
        status["conditions"] = conds
        return
    conds.append({**cond, "lastTransitionTime": cond.get("lastTransitionTime") or meta.now()})
    status["conditions"] = conds


def _names(crd: Obj) -> Obj:
    return dict((crd.get("spec") or {}).get("names") or {})


def _accepted(crd: Obj) -> Obj:
    return dict((crd.get("status") or {}).get("acceptedNames") or {})


def _used(crds: Iterable[Obj], group: str, exclude: str) -> tuple[set[str], set[str]]:
    resources: set[str] = set()
    kinds: set[str] = set()
    for other in crds:
        if (other.get("spec") or {}).get("group") != group:
            continue
        if (other.get("metadata") or {}).get("name") == exclude:
            # our own accepted names are ours (upstream reads them back and skips them
            # through equalToAcceptedOrFresh)
            pass
        acc = _accepted(other)
        for n in (acc.get("plural"), acc.get("singular"), *(acc.get("shortNames") or [])):
            if n:
                resources.add(n)
        for k in (acc.get("kind"), acc.get("listKind")):
            if k:
                kinds.add(k)
    return resources, kinds


def _fresh(requested: str | None, accepted: str | None, used: set[str]) -> str | None:
    """The conflict message, or None when ``requested`` may be taken."""
    if requested == accepted or requested not in used:
        return None
    return f'"{requested}" is already in use'


def calculate(crd: Obj, crds: Iterable[Obj]) -> tuple[Obj, Obj, Obj]:
    """(accepted names, NamesAccepted condition, Established condition) for ``crd``."""
    group = (crd.get("spec") or {}).get("group", "")
    name = (crd.get("metadata") or {}).get("name", "")
    resources, kinds = _used(crds, group, name)
    requested = _names(crd)
    accepted = _accepted(crd)
    new = dict(accepted)
    cond: Obj = {"type": NAMES_ACCEPTED, "status": "Unknown"}

    def conflict(reason: str, message: str) -> None:
        cond.update(status="False", reason=reason, message=message)

    for key, reason, used in (
        ("plural", "PluralConflict", resources),
        ("singular", "SingularConflict", resources),
    ):
        msg = _fresh(requested.get(key), accepted.get(key), used)
        if msg:
            conflict(reason, msg)
        elif requested.get(key) is not None:
            new[key] = requested[key]
    req_short = list(requested.get("shortNames") or [])
    acc_short = list(accepted.get("shortNames") or [])
    if req_short != acc_short:
        msgs = []
        for short in req_short:
            if short in acc_short or short in (accepted.get("plural"), accepted.get("singular")):
                continue
            msg = _fresh(short, "", resources)
            if msg:
                msgs.append(msg)
        if msgs:
            conflict(
                "ShortNamesConflict", msgs[0] if len(msgs) == 1 else "[" + ", ".join(msgs) + "]"
            )
        elif req_short:
            new["shortNames"] = req_short
        else:
            new.pop("shortNames", None)
    for key, reason in (("kind", "KindConflict"), ("listKind", "ListKindConflict")):
        msg = _fresh(requested.get(key), accepted.get(key), kinds)
        if msg:
            conflict(reason, msg)
        elif requested.get(key) is not None:
            new[key] = requested[key]
    if requested.get("categories"):
        new["categories"] = list(requested["categories"])
    else:
        new.pop("categories", None)
    if cond["status"] == "Unknown":
        cond.update(status="True", reason="NoConflicts", message="no conflicts found")
    established = find_condition(crd, ESTABLISHED) or {
        "type": ESTABLISHED,
        "status": "False",
        "reason": "NotAccepted",
        "message": "not all names are accepted",
    }
    if established.get("status") != "True" and cond["status"] == "True":
        # the establishing controller sets it True right after (below)
        established = {
            "type": ESTABLISHED,
            "status": "True",
            "reason": "InitialNamesAccepted",
            "message": "the initial names have been accepted",
        }
    return new, cond, established


def reconcile(crd: Obj, crds: Iterable[Obj]) -> Obj | None:
    """The CRD with its names and conditions brought up to date; None when nothing changes."""
    if (crd.get("metadata") or {}).get("deletionTimestamp"):
        return None
    names, cond, established = calculate(crd, crds)
    old_cond = find_condition(crd, NAMES_ACCEPTED)
    old_est = find_condition(crd, ESTABLISHED)
    same_cond = old_cond is not None and all(
        old_cond.get(k) == cond.get(k) for k in ("status", "reason", "message")
    )
    same_est = old_est is not None and all(
        old_est.get(k) == established.get(k) for k in ("status", "reason", "message")
    )
    if _accepted(crd) == names and same_cond and same_est:
        return None
    out = copy.deepcopy(crd)
    out.setdefault("status", {})["acceptedNames"] = names
    set_condition(out, cond)
    set_condition(out, established)
    return out
