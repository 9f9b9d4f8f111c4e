"""Make a new image from a base image (or none) plus new layers and config changes.

Used by ``bootstrap`` and the Dockerfile builder: writes the config and an OCI manifest as
blobs, unpacks the new layers and names the result. Mirrors docker ``image/image.go``
(``NewChildImage``: history appended, rootfs.diff_ids extended).

Everything here blocks: call it from a thread.
"""

from __future__ import annotations

import copy
import datetime as dt
from dataclasses import dataclass
from typing import Any

from pyk8s.images import manifest
from pyk8s.images import store as store_mod

_TO_OCI = {
    manifest.DOCKER_LAYER: manifest.OCI_LAYER,
    manifest.DOCKER_LAYER_GZIP: manifest.OCI_LAYER_GZIP,
}

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@dataclass(frozen=True)
class NewLayer:
    digest: str
    diff_id: str
    size: int
    media_type: str = manifest.OCI_LAYER_GZIP


def now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def base_config(base: store_mod.Image | None, platform: manifest.Platform) -> dict[str, Any]:
    """A deep copy of the base image's config, or an empty one for ``scratch``."""
    if base is not None:
        cfg = copy.deepcopy(base.config)
        cfg.setdefault("config", {})
        cfg.setdefault("history", [])
        return cfg
    new: dict[str, Any] = {
        "architecture": platform.architecture,
        "os": platform.os,
        "config": {},
        "rootfs": {"type": "layers", "diff_ids": []},
        "history": [],
    }
    if platform.variant:
        new["variant"] = platform.variant
    return new


def write_image(
    store: store_mod.Store,
    base: store_mod.Image | None,
    config: dict[str, Any],
    new_layers: list[NewLayer],
    names: list[str],
) -> store_mod.Image:
    """Store config + manifest for ``base`` + ``new_layers``; unpack; point ``names`` at it.

    ``config`` must already carry its history entries and the full ``rootfs.diff_ids``.
    """
    layer_descs: list[dict[str, Any]] = []
    if base is not None:
        for layer in base.manifest.layers:
            layer_descs.append(
                {
                    "mediaType": _TO_OCI.get(layer.media_type, layer.media_type),
                    "digest": layer.digest,
                    "size": layer.size,
                }
            )
    for nl in new_layers:
        layer_descs.append({"mediaType": nl.media_type, "digest": nl.digest, "size": nl.size})
    if len(config["rootfs"]["diff_ids"]) != len(layer_descs):
        raise manifest.ManifestError("config diff_ids do not match the layers")
    cfg_bytes = manifest.dumps(config)
    cfg_digest = store.blobs.put(cfg_bytes)
    doc = {
        "schemaVersion": 2,
        "mediaType": manifest.OCI_MANIFEST,
        "config": {"mediaType": manifest.OCI_CONFIG, "digest": cfg_digest, "size": len(cfg_bytes)},
        "layers": layer_descs,
    }
    target = store.blobs.put(manifest.dumps(doc))
    image = store.load(target)
    store.unpack(image)
    if names:
        store.set_refs(names, target, manifest.OCI_MANIFEST)
    return store.load(target, tuple(names))


def add_layer(
    config: dict[str, Any], layer: NewLayer | None, created_by: str, comment: str = ""
) -> None:
    """Record one step in ``config``: a history entry and, with a layer, its diff_id."""
    entry: dict[str, Any] = {"created": now(), "created_by": created_by}
    if comment:
        entry["comment"] = comment
    if layer is None:
        entry["empty_layer"] = True
    else:
        config["rootfs"]["diff_ids"].append(layer.diff_id)
    config.setdefault("history", []).append(entry)
    config["created"] = entry["created"]
