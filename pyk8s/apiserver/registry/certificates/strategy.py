"""CertificateSigningRequest strategies: the requester is recorded, approval is a
condition, the certificate is status.

Mirrors ``pkg/registry/certificates/certificates/strategy.go``: on create
``spec.username``, ``uid``, ``groups`` and ``extra`` come from the user making
the request (whatever the body says) and status is cleared; a plain update
keeps status; ``/approval`` changes only the Approved/Denied conditions
(``csrApprovalStrategy``); ``/status`` changes status but not the approval
conditions (``csrStatusStrategy``).
"""

from __future__ import annotations

import copy
from typing import Any

from pyk8s.api import meta
from pyk8s.api.errors import FieldError
from pyk8s.api.validation import certificates
from pyk8s.apiserver.registry.generic.strategy import Obj, Strategy

APPROVAL_TYPES = ("Approved", "Denied")


def _conditions(obj: Obj) -> list[Obj]:
    return list((obj.get("status") or {}).get("conditions") or [])


class CSRStrategy(Strategy):
    # "We don't care what you call your certificate requests" (upstream), beyond it being
    # usable in a URL path.
    name_validator = staticmethod(meta.path_segment_name)

    def set_requester(self, obj: Obj, user: Any) -> None:
        if user is None:
            return
        spec = obj.setdefault("spec", {})
        spec["username"] = user.name
        if user.uid:
            spec["uid"] = user.uid
        else:
            spec.pop("uid", None)
        spec["groups"] = list(user.groups)
        if user.extra:
            spec["extra"] = {k: list(v) for k, v in user.extra.items()}
        else:
            spec.pop("extra", None)

    def prepare_for_create(self, obj: Obj) -> None:
        super().prepare_for_create(obj)
        obj.pop("status", None)

    def prepare_for_update(self, obj: Obj, old: Obj) -> None:
        obj["spec"] = copy.deepcopy(old.get("spec") or {})
        if "status" in old:
            obj["status"] = copy.deepcopy(old["status"])
        else:
            obj.pop("status", None)

    def validate_update(self, obj: Obj, old: Obj) -> list[FieldError]:
        # tolerant of what the stored object already breaks (upstream's getValidationOptions)
        return (
            self.validate_meta_update(obj, old)
            + certificates.certificate_signing_request(obj, old)
            + certificates.certificate_signing_request_update(obj, old)
        )


class CSRApprovalStrategy(Strategy):
    """``/approval``: only the Approved and Denied conditions move."""

    def prepare_for_update(self, obj: Obj, old: Obj) -> None:
        new_conditions = [c for c in _conditions(obj) if c.get("type") in APPROVAL_TYPES]
        kept = [c for c in _conditions(old) if c.get("type") not in APPROVAL_TYPES]
        rv = (obj.get("metadata") or {}).get("resourceVersion")
        obj.clear()
        obj.update(copy.deepcopy(old))
        status = obj.setdefault("status", {})
        status["conditions"] = kept + new_conditions
        if rv:
            obj["metadata"]["resourceVersion"] = rv

    def validate_update(self, obj: Obj, old: Obj) -> list[FieldError]:
        return certificates.certificate_signing_request(
            obj, old
        ) + certificates.certificate_signing_request_update(obj, old, approval=True)


class CSRStatusStrategy(Strategy):
    """``/status``: everything in status but the approval conditions."""

    def prepare_for_update(self, obj: Obj, old: Obj) -> None:
        status = copy.deepcopy(obj.get("status") or {})
        approvals = [c for c in _conditions(old) if c.get("type") in APPROVAL_TYPES]
        others = [c for c in status.get("conditions") or [] if c.get("type") not in APPROVAL_TYPES]
        rv = (obj.get("metadata") or {}).get("resourceVersion")
        obj.clear()
        obj.update(copy.deepcopy(old))
        status["conditions"] = approvals + others
        if not status["conditions"]:
            del status["conditions"]
        obj["status"] = status
        if rv:
            obj["metadata"]["resourceVersion"] = rv

    def validate_update(self, obj: Obj, old: Obj) -> list[FieldError]:
        return certificates.certificate_signing_request(
            obj, old
        ) + certificates.certificate_signing_request_update(obj, old, status=True)
