"""The node lifecycle controller: node health, NoSchedule and NoExecute taints, zones."""

from __future__ import annotations

from pyk8s.controllers.nodelifecycle.controller import NodeLifecycleController, new

__all__ = ["NodeLifecycleController", "new"]
