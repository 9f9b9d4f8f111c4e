"""Namespace REST: deletion moves a namespace to Terminating until its finalizers are gone.

Mirrors ``pkg/registry/core/namespace/storage/storage.go`` (``REST.Delete``:
set ``deletionTimestamp`` and ``status.phase: Terminating``; remove the object
only when ``spec.finalizers`` and ``metadata.finalizers`` are both empty,
which the namespace controller arranges through ``/finalize``).
"""

from __future__ import annotations

import copy

from pyk8s.api import errors, meta
from pyk8s.apiserver.registry.generic import store as generic
from pyk8s.apiserver.registry.generic.strategy import Obj
from pyk8s.storage import interface as storage


class NamespaceStore(generic.Store):
    async def delete(
        self, namespace: str, name: str, opts: generic.DeleteOptions
    ) -> tuple[Obj, bool]:
        key = self.resource.key("", name)
        try:
            current = await self.storage.get(key)
        except storage.KeyNotFoundError:
            raise self._not_found(name) from None
        obj = self._with_type(generic.decode(current))
        await self._run_admission("DELETE", obj, obj)
        md = obj["metadata"]
        if opts.precondition_uid is not None and opts.precondition_uid != md.get("uid"):
            raise self._conflict(
                name,
                f"Precondition failed: UID in precondition: {opts.precondition_uid}, UID in "
                f"object meta: {md.get('uid', '')}",
            )
        spec_finalizers = (obj.get("spec") or {}).get("finalizers") or []
        if not spec_finalizers and not md.get("finalizers"):
            if opts.dry_run:
                return obj, True
            return await self._delete_now(key, name, md.get("uid"), obj)
        if md.get("deletionTimestamp"):
            return obj, False
        result: Obj = {}

        async def try_update(kv: storage.KeyValue) -> bytes | None:
            nonlocal result
            cur = self._with_type(generic.decode(kv))
            cmd = cur["metadata"]
            cmd.setdefault("deletionTimestamp", meta.now())
            cmd.setdefault("deletionGracePeriodSeconds", 0)
            finalizers = list(cmd.get("finalizers") or [])
            if opts.propagation_policy == "Orphan" and "orphan" not in finalizers:
                finalizers.append("orphan")
            if finalizers:
                cmd["finalizers"] = finalizers
            cur["status"] = {**(cur.get("status") or {}), "phase": "Terminating"}
            result = copy.deepcopy(cur)
            return None if opts.dry_run else generic.encode(cur)

        try:
            kv = await self.storage.guaranteed_update(key, try_update)
        except storage.KeyNotFoundError:
            raise self._not_found(name) from None
        result["metadata"]["resourceVersion"] = str(kv.mod_revision)
        return result, False

    @staticmethod
    def _should_delete_during_update(obj: Obj) -> bool:
        md = obj.get("metadata") or {}
        return (
            bool(md.get("deletionTimestamp"))
            and not md.get("finalizers")
            and not (obj.get("spec") or {}).get("finalizers")
        )


def terminating_conflict(name: str) -> errors.Conflict:
    return errors.Conflict.for_object(
        "namespaces",
        "",
        name,
        "The system is ensuring all content is removed from this namespace.  Upon completion, "
        "this namespace will automatically be purged by the system.",
    )
