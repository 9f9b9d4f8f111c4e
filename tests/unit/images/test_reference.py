from __future__ import annotations

import pytest

from pyk8s.images import reference

D = "sha256:" + "ab" * 32


@pytest.mark.parametrize(
    ("given", "full", "familiar"),
    [
        pytest.param("nginx", "docker.io/library/nginx:latest", "nginx:latest", id="official"),
        pytest.param("nginx:1.14.2", "docker.io/library/nginx:1.14.2", "nginx:1.14.2", id="tag"),
        pytest.param("user/app", "docker.io/user/app:latest", "user/app:latest", id="user"),
        pytest.param(
            "docker.io/nginx", "docker.io/library/nginx:latest", "nginx:latest", id="dockerio"
        ),
        pytest.param(
            "index.docker.io/library/nginx",
            "docker.io/library/nginx:latest",
            "nginx:latest",
            id="legacy",
        ),
        pytest.param(
            "localhost/app", "localhost/app:latest", "localhost/app:latest", id="localhost"
        ),
        pytest.param(
            "localhost:5000/team/app:v1",
            "localhost:5000/team/app:v1",
            "localhost:5000/team/app:v1",
            id="port",
        ),
        pytest.param(
            f"host.example:5000/a/b:v1@{D}",
            f"host.example:5000/a/b:v1@{D}",
            f"host.example:5000/a/b:v1@{D}",
            id="tag+digest",
        ),
        pytest.param(
            f"busybox@{D}",
            f"docker.io/library/busybox@{D}",
            f"busybox@{D}",
            id="digest-no-default-tag",
        ),
        pytest.param(
            "gcr.io/google_containers/echoserver:1.4",
            "gcr.io/google_containers/echoserver:1.4",
            "gcr.io/google_containers/echoserver:1.4",
            id="gcr",
        ),
        pytest.param(
            "a__b/c-d.e:T_a.g-1",
            "docker.io/a__b/c-d.e:T_a.g-1",
            "a__b/c-d.e:T_a.g-1",
            id="separators",
        ),
        pytest.param("[::1]:5000/app", "[::1]:5000/app:latest", "[::1]:5000/app:latest", id="ipv6"),
    ],
)
def test_normalise(given: str, full: str, familiar: str) -> None:
    ref = reference.parse(given)
    assert str(ref) == full
    assert ref.familiar() == familiar
    assert reference.parse(full) == ref


@pytest.mark.parametrize(
    ("given", "why"),
    [
        pytest.param("", "empty", id="empty"),
        pytest.param("Nginx", "must be lowercase", id="upper"),
        pytest.param("nginx:", "bad tag", id="empty-tag"),
        pytest.param("nginx:-x", "bad tag", id="bad-tag"),
        pytest.param("nginx@sha256:abc", "bad digest", id="short-digest"),
        pytest.param("a//b", "invalid reference format", id="empty-component"),
        pytest.param("-a/b", "invalid reference format", id="leading-dash"),
        pytest.param("x" * 300, "too long", id="too-long"),
    ],
)
def test_invalid(given: str, why: str) -> None:
    with pytest.raises(reference.InvalidReference, match=why):
        reference.parse(given)


def test_name_and_parts() -> None:
    ref = reference.parse("localhost:5000/team/app")
    assert (ref.domain, ref.path, ref.tag, ref.digest) == (
        "localhost:5000",
        "team/app",
        "latest",
        "",
    )
    assert ref.name == "localhost:5000/team/app"
    assert str(ref.with_digest(D)) == f"localhost:5000/team/app@{D}"
