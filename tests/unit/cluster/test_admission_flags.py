"""``--disable-admission-plugins``: which plugins each stored resource runs."""

from __future__ import annotations

import argparse

import pytest

from pyk8s.api import scheme
from pyk8s.apiserver.registry import rest
from pyk8s.cluster import settings
from pyk8s.storage.memory import MemoryStorage


def _server_args(*argv: str) -> argparse.Namespace:
    p = argparse.ArgumentParser()
    settings.add_storage_flags(p)
    settings.add_apiserver_flags(p)
    settings.add_registry_flags(p)
    settings.add_component_flags(p)
    return p.parse_args(list(argv))


def _pod_plugins(disabled: frozenset[str]) -> list[str]:
    r = rest.build(MemoryStorage(), scheme.DEFAULT, disabled_admission=disabled)
    return [type(a).__name__ for a in r[("", "v1", "pods")].store.admit]


def test_all_plugins_run_by_default() -> None:
    s = settings.ClusterSettings.from_args(_server_args())
    assert s.apiserver.disable_admission_plugins == frozenset()
    assert _pod_plugins(frozenset()) == [
        "NamespaceLifecycle",
        "Priority",
        "ServiceAccount",
        "DefaultTolerationSeconds",
        "RuntimeClass",
    ]


def test_disabled_plugins_are_left_out() -> None:
    s = settings.ClusterSettings.from_args(
        _server_args("--disable-admission-plugins=ServiceAccount, DefaultTolerationSeconds")
    )
    disabled = s.apiserver.disable_admission_plugins
    assert disabled == {"ServiceAccount", "DefaultTolerationSeconds"}
    assert _pod_plugins(disabled) == ["NamespaceLifecycle", "Priority", "RuntimeClass"]


def test_an_unknown_plugin_stops_start_up() -> None:
    with pytest.raises(SystemExit, match='plugin "LimitRanger" is unknown'):
        settings.ClusterSettings.from_args(_server_args("--disable-admission-plugins=LimitRanger"))
