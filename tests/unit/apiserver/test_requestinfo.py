from __future__ import annotations

import pytest

from pyk8s.apiserver import requestinfo


@pytest.mark.parametrize(
    ("method", "path", "query", "want"),
    [
        ("GET", "/api/v1/namespaces/default/pods", {}, ("list", "", "default", "pods", "", "")),
        ("GET", "/api/v1/pods", {"watch": "true"}, ("watch", "", "", "pods", "", "")),
        ("GET", "/api/v1/watch/namespaces/a/pods", {}, ("watch", "", "a", "pods", "", "")),
        ("GET", "/api/v1/namespaces/a/pods/p/log", {}, ("get", "", "a", "pods", "p", "log")),
        ("GET", "/api/v1/namespaces/a", {}, ("get", "", "", "namespaces", "a", "")),
        (
            "PUT",
            "/api/v1/namespaces/a/finalize",
            {},
            ("update", "", "", "namespaces", "a", "finalize"),
        ),
        (
            "POST",
            "/apis/apps/v1/namespaces/a/deployments",
            {},
            ("create", "apps", "a", "deployments", "", ""),
        ),
        (
            "DELETE",
            "/apis/apps/v1/namespaces/a/deployments",
            {},
            ("deletecollection", "apps", "a", "deployments", "", ""),
        ),
        (
            "PATCH",
            "/apis/apps/v1/namespaces/a/deployments/d/scale",
            {},
            ("patch", "apps", "a", "deployments", "d", "scale"),
        ),
    ],
)
def test_parse(method: str, path: str, query: dict[str, str], want: tuple[str, ...]) -> None:
    info = requestinfo.parse(method, path, query)
    assert info.is_resource_request
    got = (info.verb, info.api_group, info.namespace, info.resource, info.name, info.subresource)
    assert got == want


@pytest.mark.parametrize(
    "path", ["/", "/version", "/api", "/api/v1", "/apis/apps", "/apis/apps/v1", "/api/v1/watch"]
)
def test_non_resource(path: str) -> None:
    assert not requestinfo.parse("GET", path, {}).is_resource_request
