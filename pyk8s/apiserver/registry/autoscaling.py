"""``autoscaling/v1`` HorizontalPodAutoscalers: the v2 store seen through conversion.

Upstream serves both versions from one storage (``pkg/registry/autoscaling/
horizontalpodautoscaler``); reads and writes of the v1 form convert on the way
(``pkg/apis/autoscaling/v1/conversion.go``, here ``pyk8s.api.conversion.autoscaling``).
"""

from __future__ import annotations

from typing import Any

from pyk8s.api import errors
from pyk8s.api.conversion import autoscaling as conversion
from pyk8s.apiserver.registry.events import EventsV1Store
from pyk8s.apiserver.registry.generic.strategy import Obj


class HorizontalPodAutoscalerV1Store(EventsV1Store):
    """The same delegation as ``events.k8s.io/v1`` over core Events, with HPA conversion."""

    def _out(self, obj: Obj) -> Obj:
        return conversion.from_v2(obj)

    def _in(self, body: Any) -> Obj:
        if not isinstance(body, dict):
            raise errors.BadRequest("the body of the request must be a JSON object")
        self._check_body_type(body)
        return conversion.to_v2(body)
