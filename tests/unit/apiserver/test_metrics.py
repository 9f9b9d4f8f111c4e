from __future__ import annotations

from pyk8s.apiserver import metrics


def _observe(reg: metrics.Registry, seconds: float) -> None:
    reg.observe(verb="GET", group="", version="v1", resource="pods", subresource="",
                scope="resource", code=200, seconds=seconds)  # fmt: skip


def test_duration_buckets_are_cumulative() -> None:
    reg = metrics.Registry()
    for s in (0.001, 0.005, 0.03, 0.7, 100.0):
        _observe(reg, s)
    lines = reg.render().splitlines()

    def bucket(le: str) -> int:
        found = [x for x in lines if x.startswith("apiserver_request_duration_seconds_bucket")
                 and f'le="{le}"' in x]  # fmt: skip
        assert len(found) == 1, found
        return int(found[0].rsplit(" ", 1)[1])

    assert bucket("0.005") == 2  # "le": at most, the boundary included
    assert bucket("0.025") == 2
    assert bucket("0.05") == 3
    assert bucket("0.8") == 4
    assert bucket("60") == 4
    assert bucket("+Inf") == 5
    assert 'apiserver_request_total{verb="GET"' in reg.render()


def test_scope_label_as_upstream_clean_scope() -> None:
    """One object, or a create, is scope "resource" even in a namespace; lists are
    "namespace" or "cluster"."""
    assert metrics.clean_scope("get", "default", "c1") == "resource"
    assert metrics.clean_scope("create", "default", "") == "resource"
    assert metrics.clean_scope("list", "default", "") == "namespace"
    assert metrics.clean_scope("deletecollection", "default", "") == "namespace"
    assert metrics.clean_scope("list", "", "") == "cluster"
    assert metrics.clean_scope("get", "", "n1") == "resource"


def test_verb_label() -> None:
    assert metrics.canonical_verb("list", "GET") == "LIST"
    assert metrics.canonical_verb("watch", "GET") == "WATCH"
    assert metrics.canonical_verb("patch", "PATCH", "application/merge-patch+json") == "PATCH"
    assert metrics.canonical_verb("patch", "PATCH", "application/apply-patch+yaml") == "APPLY"
    assert metrics.canonical_verb("deletecollection", "DELETE") == "DELETE"
