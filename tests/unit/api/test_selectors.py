from __future__ import annotations

import pytest

from pyk8s.api import selectors


@pytest.mark.parametrize(
    ("selector", "labels", "want"),
    [
        pytest.param("", {}, True, id="empty-matches-all"),
        pytest.param("a=b", {"a": "b"}, True, id="eq"),
        pytest.param("a==b", {"a": "c"}, False, id="double-eq"),
        pytest.param("a!=b", {}, True, id="neq-absent"),
        pytest.param("a!=b", {"a": "b"}, False, id="neq"),
        pytest.param("a in (x, y)", {"a": "y"}, True, id="in"),
        pytest.param("a notin (x,y)", {"a": "z"}, True, id="notin"),
        pytest.param("a notin (x,y)", {}, True, id="notin-absent"),
        pytest.param("a", {"a": ""}, True, id="exists"),
        pytest.param("!a", {"a": "1"}, False, id="not-exists"),
        pytest.param("a>3", {"a": "4"}, True, id="gt"),
        pytest.param("a<3", {"a": "4"}, False, id="lt"),
        pytest.param("a=b,c in (d)", {"a": "b", "c": "d"}, True, id="and"),
        pytest.param("example.com/x=1", {"example.com/x": "1"}, True, id="prefixed"),
        pytest.param("a=", {"a": ""}, True, id="empty-value"),
    ],
)
def test_label_selector(selector: str, labels: dict[str, str], want: bool) -> None:
    assert selectors.parse_labels(selector).matches(labels) is want


@pytest.mark.parametrize("bad", ["a in (", "=b", "a b", "a in x", "a>x", "Bad Key=1", "a=b c"])
def test_label_selector_errors(bad: str) -> None:
    with pytest.raises(selectors.SelectorError):
        selectors.parse_labels(bad)


def test_structured_selector() -> None:
    sel = selectors.from_label_selector(
        {
            "matchLabels": {"app": "web"},
            "matchExpressions": [
                {"key": "tier", "operator": "In", "values": ["fe", "be"]},
                {"key": "legacy", "operator": "DoesNotExist"},
            ],
        }
    )
    assert sel.matches({"app": "web", "tier": "fe"})
    assert not sel.matches({"app": "web", "tier": "fe", "legacy": "1"})
    assert not selectors.from_label_selector(None).matches({})
    assert selectors.from_label_selector({}).matches({"x": "y"})


def test_field_selector() -> None:
    sel = selectors.parse_fields("metadata.name=a,status.phase!=Failed")
    assert sel.matches({"metadata.name": "a", "status.phase": "Running"})
    assert not sel.matches({"metadata.name": "a", "status.phase": "Failed"})
    assert sel.exact("metadata.name") == "a"
    escaped = selectors.parse_fields(r"metadata.name=a\,b")
    assert escaped.requirements[0].value == "a,b"
    with pytest.raises(selectors.SelectorError):
        selectors.parse_fields("nonsense")


def test_field_value() -> None:
    obj = {"spec": {"hostNetwork": True, "nodeName": "n"}, "status": {}}
    assert selectors.field_value(obj, "spec.hostNetwork") == "true"
    assert selectors.field_value(obj, "spec.nodeName") == "n"
    assert selectors.field_value(obj, "status.phase") == ""
