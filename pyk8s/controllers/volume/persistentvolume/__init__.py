"""The PersistentVolume controller (upstream ``pkg/controller/volume/persistentvolume``)."""

from pyk8s.controllers.volume.persistentvolume.controller import PersistentVolumeController, new

__all__ = ["PersistentVolumeController", "new"]
