"""managedFields tracking and server-side apply (pyk8s.apiserver.fieldmanager)."""

from __future__ import annotations

import copy
from typing import Any

import orjson
import pytest

from pyk8s.api import errors
from pyk8s.api.strategicpatch import Schema
from pyk8s.apiserver import fieldmanager as fm
from pyk8s.apiserver.schemas import Schemas

SCHEMAS = Schemas.load()
Obj = dict[str, Any]


def schema(group: str, kind: str) -> Schema:
    assert SCHEMAS is not None
    s = SCHEMAS.for_kind(group, "v1", kind)
    assert s is not None
    return s


DEPLOY = schema("apps", "Deployment")
POD = schema("", "Pod")


def deployment(replicas: int = 1, image: str = "nginx", **extra: Any) -> Obj:
    spec: Obj = {
        "replicas": replicas,
        "selector": {"matchLabels": {"app": "w"}},
        "template": {
            "metadata": {"labels": {"app": "w"}},
            "spec": {"containers": [{"name": "c", "image": image}]},
        },
    }
    spec.update(extra)
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "w"}, "spec": spec}


def managers(obj: Obj) -> list[tuple[str, str]]:
    return [(e["manager"], e["operation"]) for e in obj["metadata"].get("managedFields", [])]


def fields(obj: Obj, manager: str, operation: str = "Apply") -> Obj:
    for e in obj["metadata"]["managedFields"]:
        if (e["manager"], e["operation"]) == (manager, operation):
            return dict(e["fieldsV1"])
    raise AssertionError(f"no entry for {manager}/{operation}")


def apply(
    live: Obj | None, cfg: Obj, manager: str, *, force: bool = False, s: Schema = DEPLOY
) -> Obj:
    return fm.apply(live, cfg, manager, cfg["apiVersion"], s, force=force)


def created(obj: Obj, manager: str, s: Schema = DEPLOY) -> Obj:
    obj = copy.deepcopy(obj)
    fm.on_create(obj, manager, obj["apiVersion"], s)
    return obj


def updated(old: Obj, new: Obj, manager: str, s: Schema = DEPLOY, sub: str = "") -> Obj:
    new = copy.deepcopy(new)
    new["metadata"]["managedFields"] = copy.deepcopy(old["metadata"].get("managedFields"))
    fm.on_update(new, old, manager, new["apiVersion"], sub, s)
    return new


def conflict_of(excinfo: pytest.ExceptionInfo[errors.Conflict]) -> tuple[str, list[str]]:
    e = excinfo.value
    return e.message, [c["field"] for c in e.details["causes"]]


def test_identical_values_are_co_owned_without_conflict() -> None:
    live = apply(None, deployment(3), "alice")
    both = apply(live, deployment(3), "bob")
    assert managers(both) == [("alice", "Apply"), ("bob", "Apply")]
    assert "f:replicas" in fields(both, "alice")["f:spec"]
    assert "f:replicas" in fields(both, "bob")["f:spec"]
    # A change by either one now conflicts with the other.
    with pytest.raises(errors.Conflict) as ei:
        apply(both, deployment(4), "bob")
    assert conflict_of(ei) == (
        'Apply failed with 1 conflict: conflict with "alice": .spec.replicas',
        [".spec.replicas"],
    )


def test_update_manager_conflict_text_and_force_moves_ownership() -> None:
    live = created(deployment(2), "kubectl-client-side-apply")
    with pytest.raises(errors.Conflict) as ei:
        apply(live, deployment(5), "kubectl")
    msg, _causes = conflict_of(ei)
    assert msg == (
        'Apply failed with 1 conflict: conflict with "kubectl-client-side-apply" using apps/v1: '
        ".spec.replicas"
    )
    assert ei.value.details == {
        "causes": [
            {
                "reason": "FieldManagerConflict",
                "message": 'conflict with "kubectl-client-side-apply" using apps/v1',
                "field": ".spec.replicas",
            }
        ]
    }
    forced = apply(live, deployment(5), "kubectl", force=True)
    assert forced["spec"]["replicas"] == 5
    assert "f:replicas" in fields(forced, "kubectl")["f:spec"]
    assert "f:replicas" not in fields(forced, "kubectl-client-side-apply", "Update")["f:spec"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        pytest.param(
            lambda d: d["spec"]["template"]["spec"]["containers"][0].update(image="httpd"),
            '.spec.template.spec.containers[name="c"].image',
            id="associative-list-item",
        ),
        pytest.param(
            lambda d: d["spec"]["template"]["spec"].update(
                tolerations=[{"key": "k", "operator": "Exists"}]
            ),
            ".spec.template.spec.tolerations",
            id="atomic-list",
        ),
    ],
)
def test_apply_conflicts_with_update_manager_on_lists(change: Any, field: str) -> None:
    base = deployment()
    base["spec"]["template"]["spec"]["tolerations"] = [{"key": "a", "operator": "Exists"}]
    live = created(base, "creator")
    cfg = copy.deepcopy(base)
    change(cfg)
    with pytest.raises(errors.Conflict) as ei:
        apply(live, cfg, "applier")
    assert conflict_of(ei)[1] == [field]


def test_set_items_conflict_only_when_changed() -> None:
    pod: Obj = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p", "finalizers": ["a/x"]},
        "spec": {"containers": [{"name": "c", "image": "i"}]},
    }
    live = created(pod, "creator", POD)
    cfg = copy.deepcopy(pod)
    cfg["metadata"]["finalizers"] = ["a/x", "b/y"]
    out = apply(live, cfg, "applier", s=POD)  # the shared item is equal; the new one is added
    assert out["metadata"]["finalizers"] == ["a/x", "b/y"]
    owned = fields(out, "applier")["f:metadata"]["f:finalizers"]
    assert set(owned) == {'v:"a/x"', 'v:"b/y"'}


def test_dropped_fields_are_removed_unless_someone_else_owns_them() -> None:
    cfg = deployment(2)
    cfg["metadata"]["labels"] = {"x": "1", "y": "2"}
    cfg["spec"]["template"]["spec"]["containers"].append({"name": "side", "image": "busybox"})
    live = apply(None, cfg, "alice")
    # bob (an updater) changes label y: he owns it now, alice still owns x
    edit = copy.deepcopy(live)
    edit["metadata"]["labels"]["y"] = "3"
    live = updated(live, edit, "bob")
    again = deployment(2)
    out = apply(live, again, "alice")
    assert out["metadata"].get("labels") == {"y": "3"}
    assert [c["name"] for c in out["spec"]["template"]["spec"]["containers"]] == ["c"]
    assert managers(out) == [("alice", "Apply"), ("bob", "Update")]


def test_update_takes_changed_fields_from_others() -> None:
    live = apply(None, deployment(2), "alice")
    scaled = updated(live, deployment(7), "kubectl-scale")
    assert "f:replicas" not in fields(scaled, "alice")["f:spec"]
    assert fields(scaled, "kubectl-scale", "Update") == {"f:spec": {"f:replicas": {}}}


def test_status_subresource_is_its_own_manager() -> None:
    live = apply(None, deployment(2), "alice")
    with_status = copy.deepcopy(live)
    with_status["status"] = {"replicas": 2}
    out = updated(live, with_status, "controller", sub="status")
    entry = next(e for e in out["metadata"]["managedFields"] if e["manager"] == "controller")
    assert entry["subresource"] == "status"
    assert entry["operation"] == "Update"
    assert entry["fieldsV1"] == {"f:status": {"f:replicas": {}}}


def test_no_op_writes_keep_managed_fields_exactly() -> None:
    live = created(deployment(2), "creator")
    live["metadata"]["managedFields"][0]["time"] = "2020-01-01T00:00:00Z"
    again = updated(live, deployment(2), "creator")
    assert again["metadata"]["managedFields"] == live["metadata"]["managedFields"]
    applied = apply(live, deployment(2), "alice")
    applied["metadata"]["managedFields"][0]["time"] = "2020-01-01T00:00:00Z"
    assert apply(applied, deployment(2), "alice")["metadata"] == applied["metadata"]


def test_kubectl_upgrade_from_client_side_apply() -> None:
    old = deployment(2)
    last = orjson.dumps(old).decode()
    old["metadata"]["annotations"] = {fm.LAST_APPLIED: last}
    live = created(old, "kubectl-client-side-apply")
    with pytest.raises(errors.Conflict):
        apply(live, deployment(3), "not-kubectl")
    out = apply(live, deployment(3), "kubectl")
    assert out["spec"]["replicas"] == 3
    assert orjson.loads(out["metadata"]["annotations"][fm.LAST_APPLIED])["spec"]["replicas"] == 3


def test_update_managers_are_capped() -> None:
    live = created(deployment(0), "m0")
    for n in range(1, 13):
        live = updated(live, deployment(n), f"m{n}")
        live["metadata"]["labels"] = {f"l{n}": "x"}
        live = updated(live, live, f"m{n}")
    assert len(managers(live)) <= fm.MAX_UPDATE_MANAGERS
