"""Create-only virtual resources that answer about the caller (never stored).

``selfsubjectreviews`` (``kubectl auth whoami``, ``pkg/registry/authentication/selfsubjectreview``)
and ``selfsubjectaccessreviews`` (``kubectl auth can-i``,
``pkg/registry/authorization/selfsubjectaccessreview``), answered with the
request's user and the configured authorizer. The other reviews and
``bindings`` answer 405 until their issues land.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from pyk8s.api import errors, scheme
from pyk8s.apiserver import authz, negotiation, protobuf
from pyk8s.apiserver.authn import User
from pyk8s.apiserver.handlers.scope import json_response


def _user_info(user: User) -> dict[str, Any]:
    info: dict[str, Any] = {"username": user.name}
    if user.uid:
        info["uid"] = user.uid
    if user.groups:
        info["groups"] = list(user.groups)
    if user.extra:
        info["extra"] = {k: list(v) for k, v in user.extra.items()}
    return info


async def handle(
    request: web.Request,
    res: scheme.Resource,
    user: User,
    authorizer: authz.Authorizer,
    codec: protobuf.Codec | None = None,
) -> web.Response:
    raw = await request.read()
    ctype = request.headers.get("Content-Type")
    body = negotiation.decode(raw, ctype, codec) if raw.strip() else {}
    if not isinstance(body, dict):
        raise errors.BadRequest("the body of the request must be a JSON object")
    if res.plural == "selfsubjectreviews":
        return json_response(
            {
                "kind": "SelfSubjectReview",
                "apiVersion": res.api_version,
                "metadata": {"creationTimestamp": None},
                "status": {"userInfo": _user_info(user)},
            },
            201,
        )
    if res.plural == "selfsubjectaccessreviews":
        spec = body.get("spec") or {}
        ra = spec.get("resourceAttributes")
        nra = spec.get("nonResourceAttributes") or {}
        if ra:
            attrs = authz.Attributes(
                user=user,
                verb=ra.get("verb", ""),
                resource_request=True,
                api_group=ra.get("group", ""),
                api_version=ra.get("version", ""),
                namespace=ra.get("namespace", ""),
                resource=ra.get("resource", ""),
                subresource=ra.get("subresource", ""),
                name=ra.get("name", ""),
            )
        else:
            attrs = authz.Attributes(
                user=user,
                verb=nra.get("verb", ""),
                resource_request=False,
                path=nra.get("path", ""),
            )
        decision, reason = authorizer.authorize(attrs)
        out = dict(body)
        out["apiVersion"] = res.api_version
        out["kind"] = res.kind
        out.setdefault("metadata", {}).setdefault("creationTimestamp", None)
        status: dict[str, Any] = {"allowed": decision is authz.Decision.ALLOW}
        if decision is authz.Decision.DENY:
            status["denied"] = True
        if reason:
            status["reason"] = reason
        out["status"] = status
        return json_response(out, 201)
    raise errors.MethodNotAllowed(
        f"the server does not allow this method on the requested resource ({res.plural}) yet"
    )
