"""The builder's layer cache: step key -> (layer, history entry), a GC root for what it names."""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson


class Cache:
    """Step key -> {layer, history}; a GC root for the layers and images it names."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @contextlib.contextmanager
    def _locked(self) -> Iterator[dict[str, Any]]:
        with open(str(self.path) + ".lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                doc = orjson.loads(self.path.read_bytes())
            except (FileNotFoundError, orjson.JSONDecodeError):
                doc = {"version": 1, "entries": {}, "images": []}
            yield doc
            tmp = self.path.with_suffix(".tmp")
            tmp.write_bytes(orjson.dumps(doc))
            os.replace(tmp, self.path)

    def get(self, key: str) -> dict[str, Any] | None:
        try:
            doc = orjson.loads(self.path.read_bytes())
        except (FileNotFoundError, orjson.JSONDecodeError):
            return None
        entry = doc.get("entries", {}).get(key)
        return dict(entry) if entry else None

    def put(self, key: str, entry: dict[str, Any]) -> None:
        with self._locked() as doc:
            doc["entries"][key] = {"layer": entry.get("layer"), "history": entry["history"]}

    def add_image(self, target: str) -> None:
        with self._locked() as doc:
            if target not in doc["images"]:
                doc["images"] = [*doc["images"], target][-50:]
