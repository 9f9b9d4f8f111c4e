"""Registries of the batch group (``pkg/registry/batch``)."""
