from __future__ import annotations

from pyk8s.api import scheme


def test_lookups_and_keys() -> None:
    s = scheme.DEFAULT
    pods = s.lookup("", "v1", "pods")
    assert pods is not None and pods.kind == "Pod" and pods.short_names == ("po",)
    assert pods.key("default", "web") == "/registry/pods/default/web"
    svc = s.lookup("", "v1", "services")
    assert svc is not None and svc.key("default", "k") == "/registry/services/specs/default/k"
    nodes = s.lookup("", "v1", "nodes")
    assert nodes is not None and nodes.key("", "n1") == "/registry/minions/n1"
    assert s.for_kind("apps", "v1", "Deployment") is s.lookup("apps", "v1", "deployments")
    cm = s.lookup("", "v1", "configmaps")
    assert cm is not None and cm.storage_version_hash == "qFsyl6wFWjQ="


def test_every_ga_group_of_1_33_is_served() -> None:
    groups = set(scheme.DEFAULT.groups())
    assert {
        "apps",
        "batch",
        "autoscaling",
        "policy",
        "rbac.authorization.k8s.io",
        "networking.k8s.io",
        "storage.k8s.io",
        "coordination.k8s.io",
        "discovery.k8s.io",
        "events.k8s.io",
        "certificates.k8s.io",
        "scheduling.k8s.io",
        "node.k8s.io",
        "admissionregistration.k8s.io",
        "apiextensions.k8s.io",
    } <= groups


def test_table_has_no_duplicates() -> None:
    seen = set()
    for r in scheme.RESOURCES:
        assert (r.group, r.version, r.plural) not in seen
        seen.add((r.group, r.version, r.plural))
        assert r.verbs == tuple(sorted(r.verbs)), r.plural


def test_storage_version_hash_is_the_stored_version() -> None:
    """The hash names the storage version: events.k8s.io Events are stored as core v1
    Events (r2yiGXH7wu8=, as a real kube-apiserver reports), both autoscaling versions as
    autoscaling/v2."""
    s = scheme.DEFAULT
    events = s.lookup("events.k8s.io", "v1", "events")
    core_events = s.lookup("", "v1", "events")
    assert events is not None and core_events is not None
    assert events.storage_version_hash == core_events.storage_version_hash == "r2yiGXH7wu8="
    v1 = s.lookup("autoscaling", "v1", "horizontalpodautoscalers")
    v2 = s.lookup("autoscaling", "v2", "horizontalpodautoscalers")
    assert v1 is not None and v2 is not None
    assert v1.storage_version_hash == v2.storage_version_hash
