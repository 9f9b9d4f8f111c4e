"""Job registry (``pkg/registry/batch/job``)."""
