"""The DefaultTolerationSeconds admission plugin: new pods tolerate a lost node for 300 s.

Mirrors ``plugin/pkg/admission/defaulttolerationseconds/admission.go``: on pod
create (not on subresources), a pod without a toleration of the
``node.kubernetes.io/not-ready`` NoExecute taint (one naming that key or no key,
with effect NoExecute or none) gets ``{key: node.kubernetes.io/not-ready,
operator: Exists, effect: NoExecute, tolerationSeconds: 300}``, and likewise for
``node.kubernetes.io/unreachable`` (kube-apiserver's
``--default-not-ready-toleration-seconds`` and
``--default-unreachable-toleration-seconds``).
"""

from __future__ import annotations

from typing import Any

from pyk8s.api import scheme
from pyk8s.apiserver.registry.generic.strategy import Obj

NOT_READY = "node.kubernetes.io/not-ready"
UNREACHABLE = "node.kubernetes.io/unreachable"
DEFAULT_SECONDS = 300


class DefaultTolerationSeconds:
    mutating = True
    """It changes the object: what it adds is tracked by no field manager."""

    def __init__(
        self,
        resource: scheme.Resource,
        *,
        not_ready_seconds: int = DEFAULT_SECONDS,
        unreachable_seconds: int = DEFAULT_SECONDS,
    ) -> None:
        self.resource = resource
        self.seconds = {NOT_READY: not_ready_seconds, UNREACHABLE: unreachable_seconds}

    async def __call__(self, operation: str, obj: Obj, old: Obj | None) -> None:
        if operation != "CREATE" or (self.resource.group, self.resource.plural) != ("", "pods"):
            return
        spec = obj.get("spec")
        if not isinstance(spec, dict):
            return
        tolerations: Any = spec.get("tolerations") or []
        if not isinstance(tolerations, list):
            return  # validation reports it
        added = [
            {"key": key, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": seconds}
            for key, seconds in self.seconds.items()
            if not any(_covers(t, key) for t in tolerations)
        ]
        if added:
            spec["tolerations"] = [*tolerations, *added]


def _covers(toleration: Any, key: str) -> bool:
    if not isinstance(toleration, dict):
        return False
    return toleration.get("key") in (key, "", None) and toleration.get("effect") in (
        "NoExecute",
        "",
        None,
    )
