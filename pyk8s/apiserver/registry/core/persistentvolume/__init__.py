"""PersistentVolume registry (``pkg/registry/core/persistentvolume``)."""
