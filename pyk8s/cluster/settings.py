"""Settings for every component, one dataclass each, nested in ClusterSettings.

Passed explicitly to each component's ``run``; no module globals (kopf
``configuration.py``, k3s ``pkg/daemons/config/types.go``).
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from pathlib import Path

from pyk8s.storage.factory import StorageConfig, default_data_dir


@dataclass
class ClusterSettings:
    storage: StorageConfig = field(default_factory=StorageConfig)

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> ClusterSettings:
        data_dir = Path(args.data_dir) if args.data_dir else default_data_dir()
        return cls(
            storage=StorageConfig(
                data_dir=data_dir,
                datastore_endpoint=args.datastore_endpoint or "",
                etcd_prefix=args.etcd_prefix,
                datastore_cafile=_path(args.datastore_cafile),
                datastore_certfile=_path(args.datastore_certfile),
                datastore_keyfile=_path(args.datastore_keyfile),
            )
        )


def add_storage_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-dir", default="", help="state directory (default /var/lib/pyk8s)")
    p.add_argument(
        "--datastore-endpoint",
        default="",
        help="sqlite://PATH (default), http(s)://HOST:PORT[,...] for etcd v3, memory://",
    )
    p.add_argument(
        "--etcd-prefix",
        default="/registry",
        help="what replaces the leading /registry of every key in etcd (default /registry)",
    )
    p.add_argument("--datastore-cafile", default="", help="CA bundle for an https etcd")
    p.add_argument("--datastore-certfile", default="", help="client certificate for etcd")
    p.add_argument("--datastore-keyfile", default="", help="client key for etcd")


def _path(value: str) -> Path | None:
    return Path(value) if value else None
