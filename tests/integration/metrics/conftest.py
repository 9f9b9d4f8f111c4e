"""The in-process API server of the apiserver integration tests, for metrics-server."""

from tests.integration.apiserver.conftest import client, cluster

__all__ = ["client", "cluster"]
