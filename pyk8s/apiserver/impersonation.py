"""Impersonation: ``Impersonate-User`` / ``-Group`` / ``-Uid`` / ``-Extra-*`` headers.

Mirrors k8s.io/apiserver ``pkg/endpoints/filters/impersonation.go``: the
requester must be allowed the ``impersonate`` verb on ``users`` (or
``serviceaccounts`` for ``system:serviceaccount:<ns>:<name>``) and ``groups``
(core group, as upstream's ObjectReference carries no API group), ``uids`` and
``userextras/<key>`` (``authentication.k8s.io``); the request then runs as that user, who is
in ``system:authenticated`` (and the service-account groups) unless anonymous.
"""

from __future__ import annotations

from collections.abc import Mapping

from pyk8s.api import errors
from pyk8s.apiserver import authn, authz

SA_PREFIX = "system:serviceaccount:"


def _check(
    authorizer: authz.Authorizer,
    requester: authn.User,
    resource: str,
    name: str,
    *,
    group: str = "authentication.k8s.io",
    namespace: str = "",
    subresource: str = "",
) -> None:
    attrs = authz.Attributes(
        user=requester,
        verb="impersonate",
        resource_request=True,
        api_group=group,
        namespace=namespace,
        resource=resource,
        subresource=subresource,
        name=name,
    )
    decision, reason = authorizer.authorize(attrs)
    if decision is not authz.Decision.ALLOW:
        what = resource + (f"/{subresource}" if subresource else "")
        scope = f' in the namespace "{namespace}"' if namespace else " at the cluster scope"
        msg = (
            f'{resource}{"." + group if group else ""} "{name}" is forbidden: User '
            f'"{requester.name}" cannot impersonate resource "{what}" in API group "{group}"'
            f"{scope}"
        )
        if reason:
            msg += f": {reason}"
        raise errors.Forbidden(msg, details={"name": name, "group": group, "kind": resource})


def impersonate(
    headers: Mapping[str, str], requester: authn.User, authorizer: authz.Authorizer
) -> authn.User:
    """The user the request runs as (``requester`` when no impersonation header is set)."""
    getall = getattr(headers, "getall", None)
    user_name = headers.get("Impersonate-User", "")
    groups: list[str] = list(getall("Impersonate-Group", [])) if getall else []
    uid = headers.get("Impersonate-Uid", "")
    extra: dict[str, tuple[str, ...]] = {}
    for key in headers:
        if key.lower().startswith("impersonate-extra-"):
            name = key[len("impersonate-extra-") :].lower()
            values = tuple(getall(key)) if getall else (headers[key],)
            extra[name] = values
    if not user_name:
        if groups or uid or extra:
            raise errors.BadRequest(
                "requested impersonation of groups, uid or extra without impersonating a user"
            )
        return requester
    if user_name.startswith(SA_PREFIX):
        ns, _, sa = user_name[len(SA_PREFIX) :].partition(":")
        _check(authorizer, requester, "serviceaccounts", sa, group="", namespace=ns)
        base_groups = ["system:serviceaccounts", f"system:serviceaccounts:{ns}"]
    else:
        _check(authorizer, requester, "users", user_name, group="")
        base_groups = []
    for g in groups:
        _check(authorizer, requester, "groups", g, group="")
    if uid:
        _check(authorizer, requester, "uids", uid)
    for key, values in extra.items():
        for v in values:
            _check(authorizer, requester, "userextras", v, subresource=key)
    all_groups = [*base_groups, *groups]
    if user_name != authn.ANONYMOUS and authn.AUTHENTICATED not in all_groups:
        all_groups.append(authn.AUTHENTICATED)
    elif user_name == authn.ANONYMOUS and authn.UNAUTHENTICATED not in all_groups:
        all_groups.append(authn.UNAUTHENTICATED)
    return authn.User(user_name, uid=uid, groups=tuple(dict.fromkeys(all_groups)), extra=extra)
