"""Matching claims to volumes, table-driven as upstream's index_test.go."""

from __future__ import annotations

from typing import Any

import pytest

from pyk8s.controllers.volume.persistentvolume import index


def pv(
    name: str,
    size: str,
    modes: tuple[str, ...] = ("ReadWriteOnce",),
    *,
    phase: str = "Available",
    cls: str | None = None,
    mode: str | None = None,
    labels: dict[str, str] | None = None,
    claim_ref: dict[str, Any] | None = None,
    deleting: bool = False,
) -> dict[str, Any]:
    spec: dict[str, Any] = {"capacity": {"storage": size}, "accessModes": list(modes)}
    if cls is not None:
        spec["storageClassName"] = cls
    if mode is not None:
        spec["volumeMode"] = mode
    if claim_ref is not None:
        spec["claimRef"] = claim_ref
    md: dict[str, Any] = {"name": name, "labels": labels or {}}
    if deleting:
        md["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    return {"metadata": md, "spec": spec, "status": {"phase": phase}}


def pvc(
    size: str,
    modes: tuple[str, ...] = ("ReadWriteOnce",),
    *,
    cls: str | None = None,
    mode: str | None = None,
    selector: dict[str, Any] | None = None,
    annotations: dict[str, str] | None = None,
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "accessModes": list(modes),
        "resources": {"requests": {"storage": size}},
    }
    if cls is not None:
        spec["storageClassName"] = cls
    if mode is not None:
        spec["volumeMode"] = mode
    if selector is not None:
        spec["selector"] = selector
    md = {"name": "myclaim", "namespace": "default", "uid": "u-1"}
    if annotations:
        md["annotations"] = annotations  # type: ignore[assignment]
    return {"metadata": md, "spec": spec}


GI = [pv("small", "1Gi"), pv("medium", "5Gi"), pv("large", "10Gi")]

CASES: list[tuple[str, dict[str, Any], list[dict[str, Any]], str | None]] = [
    ("the seed: 500Mi fits the only 1Gi volume", pvc("500Mi"), [pv("pv-vol1", "1Gi")], "pv-vol1"),
    ("the smallest volume that fits", pvc("2Gi"), GI, "medium"),
    ("an exact fit", pvc("10Gi"), GI, "large"),
    ("too big for all", pvc("11Gi"), GI, None),
    ("binary and decimal units compare by value", pvc("1G"), [pv("a", "1Gi")], "a"),
    ("1Gi does not fit in 1G", pvc("1Gi"), [pv("a", "1G")], None),
    (
        "fewest access modes first, even if larger",
        pvc("1Gi"),
        [pv("both", "1Gi", ("ReadWriteOnce", "ReadWriteMany")), pv("rwo", "5Gi")],
        "rwo",
    ),
    (
        "a mode the claim needs must be offered",
        pvc("1Gi", ("ReadWriteMany",)),
        [pv("rwo", "5Gi"), pv("rwx", "5Gi", ("ReadWriteMany", "ReadOnlyMany"))],
        "rwx",
    ),
    ("no volume offers the mode", pvc("1Gi", ("ReadOnlyMany",)), GI, None),
    ("only Available volumes", pvc("1Gi"), [pv("p", "1Gi", phase="Pending")], None),
    ("not Released ones", pvc("1Gi"), [pv("r", "1Gi", phase="Released")], None),
    (
        "a volume reserved for another claim is skipped",
        pvc("1Gi"),
        [pv("taken", "1Gi", claim_ref={"namespace": "default", "name": "other"}), pv("b", "2Gi")],
        "b",
    ),
    (
        "a volume pre-bound to this claim wins over a smaller one",
        pvc("1Gi"),
        [pv("a", "1Gi"), pv("mine", "5Gi", claim_ref={"namespace": "default", "name": "myclaim"})],
        "mine",
    ),
    (
        "pre-bound with the claim's uid, even not Available",
        pvc("1Gi"),
        [
            pv(
                "mine",
                "5Gi",
                phase="Bound",
                claim_ref={"namespace": "default", "name": "myclaim", "uid": "u-1"},
            )
        ],
        "mine",
    ),
    (
        "pre-bound to an older claim of the same name",
        pvc("1Gi"),
        [pv("old", "5Gi", claim_ref={"namespace": "default", "name": "myclaim", "uid": "u-0"})],
        None,
    ),
    (
        "pre-bound but too small",
        pvc("10Gi"),
        [pv("mine", "5Gi", claim_ref={"namespace": "default", "name": "myclaim"})],
        None,
    ),
    ("class unset matches class-less volumes only", pvc("1Gi"), [pv("f", "1Gi", cls="fast")], None),
    ("class '' matches class-less volumes", pvc("1Gi", cls=""), [pv("a", "1Gi")], "a"),
    (
        "a class matches volumes of that class",
        pvc("1Gi", cls="fast"),
        [pv("plain", "1Gi"), pv("slow", "1Gi", cls="slow"), pv("fast", "2Gi", cls="fast")],
        "fast",
    ),
    (
        "the beta annotation wins over the field",
        pvc("1Gi", cls="fast", annotations={index.BETA_STORAGE_CLASS: "slow"}),
        [pv("fast", "1Gi", cls="fast"), pv("slow", "1Gi", cls="slow")],
        "slow",
    ),
    ("Block claims take Block volumes", pvc("1Gi", mode="Block"), [pv("fs", "1Gi")], None),
    (
        "Block to Block",
        pvc("1Gi", mode="Block"),
        [pv("fs", "1Gi"), pv("blk", "2Gi", mode="Block")],
        "blk",
    ),
    (
        "Filesystem is the default on both sides",
        pvc("1Gi", mode="Filesystem"),
        [pv("blk", "1Gi", mode="Block"), pv("fs", "2Gi")],
        "fs",
    ),
    (
        "the selector's labels",
        pvc("1Gi", selector={"matchLabels": {"tier": "gold"}}),
        [pv("a", "1Gi", labels={"tier": "silver"}), pv("b", "9Gi", labels={"tier": "gold"})],
        "b",
    ),
    (
        "selector expressions",
        pvc("1Gi", selector={"matchExpressions": [{"key": "zone", "operator": "Exists"}]}),
        [pv("a", "1Gi"), pv("b", "2Gi", labels={"zone": "a"})],
        "b",
    ),
    ("volumes being deleted are skipped", pvc("1Gi"), [pv("d", "1Gi", deleting=True)], None),
    ("no request takes the smallest", pvc("0"), GI, "small"),
]


@pytest.mark.parametrize(
    ("claim", "volumes", "expected"),
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_find_best_match(
    claim: dict[str, Any], volumes: list[dict[str, Any]], expected: str | None
) -> None:
    found = index.find_best_match(claim, volumes)
    assert (found["metadata"]["name"] if found else None) == expected


def test_wait_for_first_consumer_takes_only_prebound_volumes() -> None:
    claim = pvc("1Gi", cls="local")
    free = pv("free", "1Gi", cls="local")
    assert index.find_best_match(claim, [free], delay_binding=True) is None
    mine = pv("mine", "1Gi", cls="local", claim_ref={"namespace": "default", "name": "myclaim"})
    found = index.find_best_match(claim, [free, mine], delay_binding=True)
    assert found is not None and found["metadata"]["name"] == "mine"


def test_claim_has_class() -> None:
    assert not index.claim_has_class(pvc("1Gi"))
    assert index.claim_has_class(pvc("1Gi", cls=""))
    assert index.claim_has_class(pvc("1Gi", annotations={index.BETA_STORAGE_CLASS: ""}))
