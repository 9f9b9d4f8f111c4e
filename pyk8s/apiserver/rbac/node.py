"""The Node authorizer: what a kubelet (``system:node:<name>`` in ``system:nodes``) may do.

A simplified ``plugin/pkg/auth/authorizer/node/node_authorizer.go``: a node
gets the rules of the ``system:node`` role (``bootstrappolicy.NodeRules``);
objects whose access upstream derives from the graph of pods bound to the
node (secrets, configmaps, persistent volumes and claims, service-account
tokens) may only be read one by one (``get``, ``create`` for tokens), never
listed; its Lease, CSINode and Node objects only under its own name. Upstream
also checks the pod graph itself; pyk8s does not build it yet. Anyone else
gets no opinion, so RBAC decides.
"""

from __future__ import annotations

from pyk8s.apiserver import authz
from pyk8s.apiserver.rbac import policy, rules

NODE_PREFIX = "system:node:"
NODES_GROUP = "system:nodes"

_GRAPH = {
    ("", "secrets"),
    ("", "configmaps"),
    ("", "persistentvolumeclaims"),
    ("", "persistentvolumes"),
    ("", "serviceaccounts"),
}
_OWN_NAME = {("coordination.k8s.io", "leases"), ("storage.k8s.io", "csinodes")}


def node_name(user_name: str, groups: tuple[str, ...]) -> str:
    """The node a user stands for, or "" when it is not a node."""
    if NODES_GROUP not in groups or not user_name.startswith(NODE_PREFIX):
        return ""
    return user_name[len(NODE_PREFIX) :]


class NodeAuthorizer:
    def __init__(self) -> None:
        self.rules = policy.node_rules()

    def authorize(self, attrs: authz.Attributes) -> tuple[authz.Decision, str]:
        node = node_name(attrs.user.name, attrs.user.groups)
        if not node:
            return authz.Decision.NO_OPINION, ""
        if attrs.resource_request:
            key = (attrs.api_group, attrs.resource)
            if key in _GRAPH:
                if attrs.verb != "get" and not (
                    attrs.subresource == "token" and attrs.verb == "create"
                ):
                    return (
                        authz.Decision.NO_OPINION,
                        "can only get individual resources of this type",
                    )
                return authz.Decision.ALLOW, ""
            if key in _OWN_NAME and attrs.name and attrs.name != node:
                return authz.Decision.NO_OPINION, f'can only access {attrs.resource} "{node}"'
            if (
                key == ("", "nodes")
                and attrs.verb in ("update", "patch", "delete")
                and attrs.name != node
            ):
                return authz.Decision.NO_OPINION, f'can only modify node "{node}"'
        for r in self.rules:
            if rules.allows(
                r,
                verb=attrs.verb,
                resource_request=attrs.resource_request,
                group=attrs.api_group,
                resource=attrs.resource,
                subresource=attrs.subresource,
                name=attrs.name,
                path=attrs.path,
            ):
                return authz.Decision.ALLOW, ""
        return authz.Decision.NO_OPINION, ""
