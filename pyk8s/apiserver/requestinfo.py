"""What a request URL asks for: API group, version, namespace, resource, name, verb.

Mirrors k8s.io/apiserver ``pkg/endpoints/request/requestinfo.go``
(``RequestInfoFactory.NewRequestInfo``): ``/api/v1/...`` is the core group,
``/apis/<group>/<version>/...`` the others; ``namespaces/<ns>/<resource>``
scopes a request; the legacy ``/watch/`` prefix and ``?watch=true`` make a
list a watch.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

_METHOD_VERBS = {
    "POST": "create",
    "GET": "get",
    "HEAD": "get",
    "PUT": "update",
    "PATCH": "patch",
    "DELETE": "delete",
}


@dataclass(frozen=True)
class RequestInfo:
    is_resource_request: bool
    path: str
    verb: str
    api_prefix: str = ""
    api_group: str = ""
    api_version: str = ""
    namespace: str = ""
    resource: str = ""
    subresource: str = ""
    name: str = ""
    parts: tuple[str, ...] = ()


_NAMESPACE_SUBRESOURCES = ("status", "finalize")


def _truthy(v: str | None) -> bool:
    return v is not None and v.lower() in ("1", "true", "t", "y", "yes")


def parse(method: str, path: str, query: Mapping[str, str]) -> RequestInfo:
    verb = _METHOD_VERBS.get(method.upper(), method.lower())
    segments = [s for s in path.strip("/").split("/") if s]
    if not segments or segments[0] not in ("api", "apis"):
        return RequestInfo(False, path, verb)
    prefix = segments[0]
    rest = segments[1:]
    group = ""
    if prefix == "apis":
        if not rest:
            return RequestInfo(False, path, verb)
        group, rest = rest[0], rest[1:]
    if not rest:
        return RequestInfo(False, path, verb, api_prefix=prefix, api_group=group)
    version, rest = rest[0], rest[1:]
    if not rest:
        return RequestInfo(
            False, path, verb, api_prefix=prefix, api_group=group, api_version=version
        )
    watch_prefix = False
    if rest[0] == "watch":
        watch_prefix = True
        rest = rest[1:]
        if not rest:
            return RequestInfo(False, path, verb, api_prefix=prefix, api_group=group)
    namespace = ""
    if rest[0] == "namespaces" and len(rest) > 1:
        namespace = rest[1]
        # namespaces/<ns>/<resource>... unless it is the namespace's own subresource
        if len(rest) > 2 and rest[2] not in _NAMESPACE_SUBRESOURCES:
            rest = rest[2:]
    resource = rest[0]
    name = rest[1] if len(rest) > 1 else ""
    sub = rest[2] if len(rest) > 2 else ""
    if resource == "namespaces":
        namespace = ""
    if verb == "get" and not name:
        verb = "list"
    if verb in ("get", "list") and (watch_prefix or _truthy(query.get("watch"))):
        verb = "watch"
    if verb == "delete" and not name:
        verb = "deletecollection"
    return RequestInfo(
        True,
        path,
        verb,
        api_prefix=prefix,
        api_group=group,
        api_version=version,
        namespace=namespace,
        resource=resource,
        subresource=sub,
        name=name,
        parts=tuple(rest),
    )
