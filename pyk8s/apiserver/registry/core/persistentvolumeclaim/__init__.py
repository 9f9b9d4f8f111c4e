"""PersistentVolumeClaim registry (``pkg/registry/core/persistentvolumeclaim``)."""
