"""The deployment controller: ReplicaSets per pod template, rolled out as the strategy says."""

from __future__ import annotations

from pyk8s.controllers.deployment.controller import DeploymentController, new

__all__ = ["DeploymentController", "new"]
