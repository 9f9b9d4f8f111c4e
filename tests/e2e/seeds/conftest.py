"""The module-scoped ``pyk8s server --disable-agent`` fixture of the controller e2e tests."""

from tests.e2e.controllers.conftest import cluster

__all__ = ["cluster"]
