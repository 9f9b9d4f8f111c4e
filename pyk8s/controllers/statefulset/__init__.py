"""The StatefulSet controller (``pkg/controller/statefulset``)."""

from pyk8s.controllers.statefulset.controller import StatefulSetController, new

__all__ = ["StatefulSetController", "new"]
