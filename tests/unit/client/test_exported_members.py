"""The public facade exports exactly what ``__all__`` says (httpx's test_exported_members)."""

from __future__ import annotations

import types

import pyk8s.client


def test_all_names_exist() -> None:
    for name in pyk8s.client.__all__:
        assert hasattr(pyk8s.client, name), name


def test_every_public_member_is_exported() -> None:
    public = {
        name
        for name, value in vars(pyk8s.client).items()
        if not name.startswith("_")
        and name != "annotations"
        # submodules imported by other submodules appear too; those are allowed only if listed
        and (not isinstance(value, types.ModuleType) or value.__name__.startswith("pyk8s.client"))
    }
    assert public == set(pyk8s.client.__all__)


def test_all_is_sorted_and_unique() -> None:
    assert list(pyk8s.client.__all__) == sorted(set(pyk8s.client.__all__))
