"""The NamespaceLifecycle admission plugin: no new objects in a missing or
terminating namespace; the system namespaces may not be deleted.

Mirrors ``staging/src/k8s.io/apiserver/pkg/admission/plugin/namespace/lifecycle``:
a create in a namespace that does not exist is 404 ``namespaces "x" not found``;
in a terminating one, 403 with cause ``NamespaceTerminating``; deleting
``default``, ``kube-system`` or ``kube-public`` (its ``immortalNamespaces``) is 403.
"""

from __future__ import annotations

import orjson

from pyk8s.api import errors, scheme
from pyk8s.apiserver.registry.generic.strategy import Obj
from pyk8s.storage import interface as storage

NAMESPACES = "/registry/namespaces/"
IMMORTAL = frozenset({"default", "kube-system", "kube-public"})


class NamespaceLifecycle:
    def __init__(self, backend: storage.Interface, resource: scheme.Resource) -> None:
        self.storage = backend
        self.resource = resource

    async def __call__(self, operation: str, obj: Obj, old: Obj | None) -> None:
        if operation == "DELETE" and (self.resource.group, self.resource.plural) == (
            "",
            "namespaces",
        ):
            name = (obj.get("metadata") or {}).get("name", "")
            if name in IMMORTAL:
                raise errors.Forbidden.for_object(
                    "namespaces", "", name, "this namespace may not be deleted", None
                )
            return
        if operation != "CREATE" or not self.resource.namespaced:
            return
        ns = (obj.get("metadata") or {}).get("namespace", "")
        if not ns:
            return
        try:
            kv = await self.storage.get(NAMESPACES + ns)
        except storage.KeyNotFoundError:
            raise errors.NotFound.for_object("namespaces", "", ns) from None
        ns_obj = orjson.loads(kv.value)
        phase = (ns_obj.get("status") or {}).get("phase")
        if phase == "Terminating" or (ns_obj.get("metadata") or {}).get("deletionTimestamp"):
            if self.resource.plural == "events":
                return  # events may still be written while a namespace goes away
            name = (obj.get("metadata") or {}).get("name", "")
            raise errors.Forbidden.for_object(
                self.resource.plural,
                self.resource.group,
                name,
                f"unable to create new content in namespace {ns} because it is being terminated",
                [
                    {
                        "reason": "NamespaceTerminating",
                        "message": f"namespace {ns} is being terminated",
                        "field": "metadata.namespace",
                    }
                ],
            )
