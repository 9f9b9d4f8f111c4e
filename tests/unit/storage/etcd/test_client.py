"""Endpoint parsing and key-range arithmetic of the etcd client."""

from __future__ import annotations

import pytest

from pyk8s.storage.etcd.client import Endpoints, prefix_end


@pytest.mark.parametrize(
    ("url", "secure", "hosts", "target"),
    [
        pytest.param(
            "http://127.0.0.1:2379", False, (("127.0.0.1", 2379),), "127.0.0.1:2379", id="one"
        ),
        pytest.param(
            "https://etcd.local", True, (("etcd.local", 2379),), "etcd.local:2379", id="dns"
        ),
        pytest.param(
            "http://10.0.0.1:1,10.0.0.2:2",
            False,
            (("10.0.0.1", 1), ("10.0.0.2", 2)),
            "ipv4:10.0.0.1:1,10.0.0.2:2",
            id="list-short",
        ),
        pytest.param(
            "https://[::1]:3,https://[::2]:4",
            True,
            (("::1", 3), ("::2", 4)),
            "ipv6:[::1]:3,[::2]:4",
            id="list-v6",
        ),
    ],
)
def test_parse(url: str, secure: bool, hosts: tuple[tuple[str, int], ...], target: str) -> None:
    ep = Endpoints.parse(url)
    assert (ep.secure, ep.hosts, ep.target()) == (secure, hosts, target)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        pytest.param("127.0.0.1:2379", "must start with http", id="no-scheme"),
        pytest.param("grpc://h:1", "scheme must be http or https", id="scheme"),
        pytest.param("http://h:1,https://g:2", "mixes http and https", id="mixed"),
        pytest.param("http://h:1/v3", "only scheme://host:port", id="path"),
        pytest.param("http://h:port", "bad port", id="port"),
        pytest.param("http://h:1,,http://g:2", "empty entry", id="empty"),
    ],
)
def test_parse_refuses(url: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Endpoints.parse(url)


def test_several_hostnames_are_refused_for_the_address_list() -> None:
    with pytest.raises(ValueError, match="must be IP addresses"):
        Endpoints.parse("http://a:1,http://b:2").target()


def test_prefix_end() -> None:
    assert prefix_end(b"/registry/") == b"/registry0"
    assert prefix_end(b"a\xff") == b"b"
    assert prefix_end(b"\xff\xff") == b"\x00"
