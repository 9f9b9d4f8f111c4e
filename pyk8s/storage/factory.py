"""Opens the backend a ``--datastore-endpoint`` names (k3s/kine endpoint style).

- empty or ``sqlite://[PATH]``: SQLite, by default ``<data-dir>/db/state.db``
- ``http://HOST:PORT[,HOST:PORT...]`` or ``https://...``: etcd v3
- ``memory://``: in memory, lost at exit (tests and experiments)
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from pyk8s.storage.interface import Interface


def default_data_dir() -> Path:
    if os.geteuid() == 0:
        return Path("/var/lib/pyk8s")
    return Path.home() / ".local" / "share" / "pyk8s"


@dataclass
class StorageConfig:
    data_dir: Path = field(default_factory=default_data_dir)
    datastore_endpoint: str = ""
    etcd_prefix: str = "/registry"
    datastore_cafile: Path | None = None
    datastore_certfile: Path | None = None
    datastore_keyfile: Path | None = None
    compaction_interval: float = 60.0
    compaction_min_revisions: int = 1000
    compaction_min_age: float = 300.0

    @property
    def kind(self) -> str:
        ep = self.datastore_endpoint
        if not ep or ep.startswith("sqlite://"):
            return "sqlite"
        if ep.startswith("memory://"):
            return "memory"
        if ep.startswith(("http://", "https://")):
            return "etcd"
        raise ValueError(
            f"unsupported --datastore-endpoint {ep!r}: use sqlite://PATH, http(s)://HOST:PORT "
            "(etcd) or memory://"
        )

    @property
    def sqlite_path(self) -> Path:
        ep = self.datastore_endpoint
        if ep.startswith("sqlite://") and len(ep) > len("sqlite://"):
            return Path(ep[len("sqlite://") :])
        return self.data_dir / "db" / "state.db"


def describe(config: StorageConfig) -> str:
    kind = config.kind
    if kind == "sqlite":
        return f"sqlite {config.sqlite_path}"
    if kind == "etcd":
        return f"etcd {config.datastore_endpoint} prefix {config.etcd_prefix}"
    return "memory"


async def open_storage(config: StorageConfig) -> Interface:
    kind = config.kind
    if kind == "memory":
        from pyk8s.storage.memory import MemoryStorage

        return MemoryStorage()
    if kind == "sqlite":
        import asyncio

        from pyk8s.storage.sqlite.log import SqliteStorage

        path = config.sqlite_path
        await asyncio.to_thread(path.parent.mkdir, parents=True, exist_ok=True)
        return await SqliteStorage.open(path)
    if kind == "etcd":
        from pyk8s.storage.etcd import client as etcd
        from pyk8s.storage.etcd.backend import EtcdStorage

        return await EtcdStorage.open(
            etcd.Endpoints.parse(config.datastore_endpoint),
            prefix=config.etcd_prefix,
            tls=etcd.TLSFiles(
                config.datastore_cafile, config.datastore_certfile, config.datastore_keyfile
            ),
        )
    raise NotImplementedError(f"the {kind} backend is not available yet")
