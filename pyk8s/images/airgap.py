"""Air-gap images: every tarball in ``<data-dir>/images/import/`` is imported when the server
starts, as k3s does with ``agent/images/``. A file is imported again only when its size or
modification time changed (``.imported.json`` remembers). Mirrors k3s
``pkg/agent/containerd/containerd.go`` ``PreloadImages``.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import orjson

from pyk8s.images import archive, layers, manifest
from pyk8s.images import store as store_mod

log = logging.getLogger(__name__)
SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.zst", ".tar.bz2", ".tar.xz")
STATE = ".imported.json"


def _import_all(store: store_mod.Store) -> list[str]:
    folder = store.import_dir
    if not folder.is_dir():
        return []
    try:
        seen: dict[str, Any] = orjson.loads((folder / STATE).read_bytes())
    except (FileNotFoundError, orjson.JSONDecodeError):
        seen = {}
    done: list[str] = []
    for path in sorted(folder.iterdir()):
        if not path.is_file() or not path.name.endswith(SUFFIXES):
            continue
        st = path.stat()
        stamp = [st.st_size, st.st_mtime_ns]
        if seen.get(path.name) == stamp:
            continue
        try:
            imported = archive.import_archive(store, path)
        except (archive.ArchiveError, layers.LayerError, manifest.ManifestError, OSError) as e:
            log.error("air-gap import of %s failed: %s", path, e)
            continue
        for imp in imported:
            done.extend(imp.names or (imp.image.id,))
        seen[path.name] = stamp
    (folder / STATE).write_bytes(orjson.dumps(seen))
    return done


async def import_dir(store_root: Path) -> list[str]:
    """Import the air-gap tarballs under ``store_root``; returns the names imported."""

    def work() -> list[str]:
        return _import_all(store_mod.Store(store_root))

    names = await asyncio.to_thread(work)
    if names:
        log.info("imported air-gap images: %s", ", ".join(names))
    return names
