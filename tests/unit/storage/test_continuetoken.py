"""Continue tokens: upstream's format, and rejection of tokens that are not ours."""

from __future__ import annotations

import base64

import orjson
import pytest

from pyk8s.storage import continuetoken
from pyk8s.storage.interface import InvalidContinueError

PREFIX = "/registry/pods/"


def test_round_trip_and_upstream_shape() -> None:
    token = continuetoken.encode(42, PREFIX, continuetoken.after("/registry/pods/ns/web"))
    raw = orjson.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    assert raw == {"v": "meta.k8s.io/v1", "rv": 42, "start": "ns/web\x00"}
    assert continuetoken.decode(token, PREFIX) == (42, "/registry/pods/ns/web\x00")


def forge(data: object) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(data)).decode()


@pytest.mark.parametrize(
    "token",
    [
        pytest.param("%%%", id="not-base64"),
        pytest.param(base64.urlsafe_b64encode(b"{").decode(), id="not-json"),
        pytest.param(forge({"v": "v0", "rv": 1, "start": "a"}), id="wrong-version"),
        pytest.param(forge({"v": "meta.k8s.io/v1", "rv": 0, "start": "a"}), id="zero-rv"),
        pytest.param(forge({"v": "meta.k8s.io/v1", "rv": 1, "start": ""}), id="empty-start"),
        pytest.param(forge({"v": "meta.k8s.io/v1", "rv": 1, "start": "../x"}), id="escapes"),
        pytest.param(forge({"v": "meta.k8s.io/v1", "rv": 1, "start": "a//b"}), id="unclean"),
    ],
)
def test_rejects_foreign_tokens(token: str) -> None:
    with pytest.raises(InvalidContinueError):
        continuetoken.decode(token, PREFIX)
