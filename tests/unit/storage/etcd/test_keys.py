"""Where interface keys go in etcd."""

from __future__ import annotations

import pytest

from pyk8s.storage.etcd.keys import KeyMap


@pytest.mark.parametrize(
    ("prefix", "key", "stored"),
    [
        pytest.param("/registry", "/registry/pods/ns/web", b"/registry/pods/ns/web", id="default"),
        pytest.param("/registry/", "/registry/pods/ns/web", b"/registry/pods/ns/web", id="slash"),
        pytest.param("/cluster-a", "/registry/pods/ns/web", b"/cluster-a/pods/ns/web", id="other"),
        pytest.param("/a/b", "/registry/", b"/a/b/", id="nested-prefix"),
        pytest.param("", "/registry/pods/ns/web", b"/pods/ns/web", id="empty"),
        pytest.param("/registry", "/registry/x/\u00e9", "/registry/x/\u00e9".encode(), id="utf8"),
    ],
)
def test_round_trip(prefix: str, key: str, stored: bytes) -> None:
    keys = KeyMap(prefix)
    assert keys.to_etcd(key) == stored
    assert keys.from_etcd(stored) == key


def test_keys_outside_registry_are_refused() -> None:
    keys = KeyMap("/registry")
    with pytest.raises(ValueError, match="does not start with '/registry'"):
        keys.to_etcd("/pods/ns/web")
    with pytest.raises(ValueError, match="outside the prefix"):
        keys.from_etcd(b"/elsewhere/x")
    with pytest.raises(ValueError, match="must start with '/'"):
        KeyMap("registry")
