"""Create-only virtual resources that answer about the caller (never stored).

``selfsubjectreviews`` (``kubectl auth whoami``, ``pkg/registry/authentication/selfsubjectreview``),
``tokenreviews`` (the authenticator on a token), ``selfsubjectaccessreviews``
(``kubectl auth can-i``), ``subjectaccessreviews`` and ``localsubjectaccessreviews``
(``pkg/registry/authorization/*``: the configured authorizer on the given
attributes) and ``selfsubjectrulesreviews`` (``can-i --list``: the rules the
authorizers grant the caller in a namespace).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from pyk8s.api import errors, scheme
from pyk8s.apiserver import authz, negotiation, requestinfo
from pyk8s.apiserver.authn import AuthenticationError, Authenticator, User
from pyk8s.apiserver.handlers.scope import json_response

if TYPE_CHECKING:
    from pyk8s.apiserver import protobuf


def _user_info(user: User) -> dict[str, Any]:
    info: dict[str, Any] = {"username": user.name}
    if user.uid:
        info["uid"] = user.uid
    if user.groups:
        info["groups"] = list(user.groups)
    if user.extra:
        info["extra"] = {k: list(v) for k, v in user.extra.items()}
    return info


def rules_review_status(
    rules: list[dict[str, Any]], errs: list[str], *, complete: bool = True
) -> dict[str, Any]:
    """``SubjectRulesReviewStatus`` from policy rules (``pkg/registry/authorization/
    selfsubjectrulesreview/rest.go``): resource and non-resource rules apart."""
    resource_rules: list[dict[str, Any]] = []
    non_resource_rules: list[dict[str, Any]] = []
    for r in rules:
        if r.get("nonResourceURLs"):
            non_resource_rules.append(
                {"verbs": list(r.get("verbs") or []), "nonResourceURLs": list(r["nonResourceURLs"])}
            )
            continue
        rr: dict[str, Any] = {"verbs": list(r.get("verbs") or [])}
        for key in ("apiGroups", "resources", "resourceNames"):
            if r.get(key):
                rr[key] = list(r[key])
        resource_rules.append(rr)
    status: dict[str, Any] = {
        "resourceRules": resource_rules,
        "nonResourceRules": non_resource_rules,
        "incomplete": bool(errs) or not complete,
    }
    if errs:
        status["evaluationError"] = ", ".join(errs)
    return status


async def handle(
    request: web.Request,
    res: scheme.Resource,
    user: User,
    authorizer: authz.Authorizer,
    codec: protobuf.Codec | None = None,
    authenticator: Authenticator | None = None,
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
    if res.plural in (
        "selfsubjectaccessreviews",
        "subjectaccessreviews",
        "localsubjectaccessreviews",
    ):
        spec = body.get("spec") or {}
        subject = user
        if res.plural != "selfsubjectaccessreviews":
            if not spec.get("user") and not spec.get("groups"):
                raise errors.Invalid.for_object(
                    res.kind,
                    res.group,
                    "",
                    [
                        errors.invalid_value(
                            "spec.user", "", "at least one of user or group must be specified"
                        )
                    ],
                )
            subject = User(
                spec.get("user", ""),
                uid=spec.get("uid", ""),
                groups=tuple(spec.get("groups") or ()),
                extra={k: tuple(v) for k, v in (spec.get("extra") or {}).items()},
            )
        ra = spec.get("resourceAttributes")
        nra = spec.get("nonResourceAttributes") or {}
        if res.plural == "localsubjectaccessreviews":
            ns = requestinfo.parse(request.method, request.path, request.query).namespace
            if ra is None or ra.get("namespace", "") != ns:
                raise errors.BadRequest(
                    f"spec.resourceAttributes.namespace must match namespace: {ns}"
                )
        if ra:
            attrs = authz.Attributes(
                user=subject,
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
                user=subject,
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
    if res.plural == "selfsubjectrulesreviews":
        namespace = (body.get("spec") or {}).get("namespace", "")
        lister = getattr(authorizer, "rules_for", None)
        rules, errs = lister(user, namespace) if lister is not None else ([], [])
        out = dict(body)
        out["apiVersion"] = res.api_version
        out["kind"] = res.kind
        out.setdefault("metadata", {}).setdefault("creationTimestamp", None)
        out["status"] = rules_review_status(rules, errs, complete=lister is not None)
        return json_response(out, 201)
    if res.plural == "tokenreviews":
        token = (body.get("spec") or {}).get("token", "")
        out = dict(body)
        out["apiVersion"] = res.api_version
        out["kind"] = res.kind
        out.setdefault("metadata", {}).setdefault("creationTimestamp", None)
        reviewed: User | None = None
        if token and authenticator is not None:
            try:
                reviewed = await authenticator.authenticate(f"Bearer {token}", None)
            except AuthenticationError:
                reviewed = None
        if reviewed is None:
            out["status"] = {"authenticated": False, "error": "invalid bearer token"}
        else:
            out["status"] = {"authenticated": True, "user": _user_info(reviewed)}
        return json_response(out, 201)
    raise errors.MethodNotAllowed(
        f"the server does not allow this method on the requested resource ({res.plural}) yet"
    )
