"""APIService: the name is ``<version>.<group>`` (``v1.`` for the core group).

Mirrors ``kube-aggregator/pkg/apis/apiregistration/validation/validation.go``
(``ValidateAPIService``: the name is a path segment and must be ``spec.version`` + "." +
``spec.group``).
"""

from __future__ import annotations

from typing import Any

from pyk8s.api import errors, meta
from pyk8s.apiserver.registry.generic.strategy import Strategy


class APIServiceStrategy(Strategy):
    name_validator = staticmethod(meta.path_segment_name)

    def validate(self, obj: dict[str, Any]) -> list[errors.FieldError]:
        errs = super().validate(obj)
        spec = obj.get("spec") or {}
        name = (obj.get("metadata") or {}).get("name", "")
        if name and name != f"{spec.get('version', '')}.{spec.get('group', '')}":
            errs.append(
                errors.invalid_value("metadata.name", name, 'must be `spec.version+"."+spec.group`')
            )
        return errs
