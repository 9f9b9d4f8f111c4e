from __future__ import annotations

import pytest

from pyk8s.controllers import manager


def _nothing(ctx: manager.ControllerContext) -> manager.base.Controller:
    raise AssertionError("not constructed in these tests")


def test_registry_refuses_duplicate_names() -> None:
    with pytest.raises(ValueError, match="registered twice"):
        manager.build_registry(
            [
                manager.ControllerDescriptor("a", _nothing),
                manager.ControllerDescriptor("a", _nothing),
            ]
        )


def test_registry_refuses_duplicate_aliases() -> None:
    with pytest.raises(ValueError, match="already taken"):
        manager.build_registry(
            [
                manager.ControllerDescriptor("a", _nothing, ("x",)),
                manager.ControllerDescriptor("b", _nothing, ("x",)),
            ]
        )


def test_registry_refuses_missing_constructor() -> None:
    with pytest.raises(ValueError, match="no constructor"):
        manager.build_registry([manager.ControllerDescriptor("a", None)])  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("flag", "expected"),
    [
        pytest.param(["*"], ["a", "b"], id="star-means-defaults"),
        pytest.param(["*,-a"], ["b"], id="minus-removes"),
        pytest.param(["*", "c"], ["a", "b", "c"], id="name-adds-disabled-by-default"),
        pytest.param(["b"], ["b"], id="only-named"),
        pytest.param(["*,-alias-of-b"], ["a"], id="aliases"),
        pytest.param([""], [], id="empty"),
    ],
)
def test_enabled_names(flag: list[str], expected: list[str]) -> None:
    table = manager.build_registry(
        [
            manager.ControllerDescriptor("a", _nothing),
            manager.ControllerDescriptor("b", _nothing, ("alias-of-b",)),
            manager.ControllerDescriptor("c", _nothing, disabled_by_default=True),
        ]
    )
    assert manager.enabled_names(flag, table) == expected


def test_unknown_controller_is_an_error() -> None:
    with pytest.raises(ValueError, match="not in the list of known controllers"):
        manager.enabled_names(["*,-nope"], manager.controllers())


def test_the_real_table_builds() -> None:
    names = manager.enabled_names(["*"], manager.controllers())
    assert "namespace-controller" in names
    assert "serviceaccount-controller" in names
