"""Settings of the image store inside ``pyk8s server`` (nested in ``ClusterSettings``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass
class ImagesConfig:
    store_root: Path
    registry_port: int = 0  # 0: no embedded registry
    registry_bind_address: str = "0.0.0.0"
    registry_auth_file: Path | None = None
