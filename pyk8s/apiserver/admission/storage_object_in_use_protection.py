"""The StorageObjectInUseProtection admission plugin: new volumes and claims are protected.

Mirrors ``plugin/pkg/admission/storage/storageobjectinuseprotection/admission.go``: on
create, a PersistentVolume gets the ``kubernetes.io/pv-protection`` finalizer and a
PersistentVolumeClaim ``kubernetes.io/pvc-protection``, so deleting one that is still in
use leaves it Terminating until the protection controllers let it go.
"""

from __future__ import annotations

from pyk8s.api import scheme
from pyk8s.apiserver.registry.generic.strategy import Obj

PV_PROTECTION = "kubernetes.io/pv-protection"
PVC_PROTECTION = "kubernetes.io/pvc-protection"
_FINALIZERS = {"persistentvolumes": PV_PROTECTION, "persistentvolumeclaims": PVC_PROTECTION}


class StorageObjectInUseProtection:
    mutating = True

    def __init__(self, resource: scheme.Resource) -> None:
        self.finalizer = _FINALIZERS[resource.plural]

    async def __call__(self, operation: str, obj: Obj, old: Obj | None) -> None:
        if operation != "CREATE":
            return
        md = obj.setdefault("metadata", {})
        finalizers = md.get("finalizers")
        if not isinstance(finalizers, list):
            finalizers = md["finalizers"] = []
        if self.finalizer not in finalizers:
            finalizers.append(self.finalizer)
