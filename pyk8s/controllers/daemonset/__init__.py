"""The DaemonSet controller (``pkg/controller/daemon``)."""

from pyk8s.controllers.daemonset.controller import DaemonSetController, new

__all__ = ["DaemonSetController", "new"]
