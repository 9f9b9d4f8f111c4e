"""Where interface keys live in etcd.

The keys the API server hands to storage are etcd keys as real Kubernetes
writes them: ``/registry/pods/default/web``. ``--etcd-prefix`` (default
``/registry``, as kube-apiserver's ``--etcd-prefix``) replaces that leading
``/registry``: with ``--etcd-prefix=/cluster-a`` the pod above is stored at
``/cluster-a/pods/default/web``, so several clusters can share one etcd. Every
key and prefix given to the backend must start with ``/registry``; anything
else is a programming error and raises ValueError.
"""

from __future__ import annotations

ROOT = "/registry"


class KeyMap:
    def __init__(self, prefix: str = ROOT) -> None:
        if prefix and not prefix.startswith("/"):
            raise ValueError(f"etcd prefix {prefix!r} must start with '/'")
        self.prefix = prefix.rstrip("/")
        self._raw_prefix = self.prefix.encode()

    def to_etcd(self, key: str) -> bytes:
        if not key.startswith(ROOT):
            raise ValueError(f"storage key {key!r} does not start with {ROOT!r}")
        return (self.prefix + key[len(ROOT) :]).encode("utf-8", "surrogateescape")

    def from_etcd(self, raw: bytes) -> str:
        if not raw.startswith(self._raw_prefix):
            raise ValueError(f"etcd key {raw!r} is outside the prefix {self.prefix!r}")
        return ROOT + raw[len(self._raw_prefix) :].decode("utf-8", "surrogateescape")

    @property
    def root(self) -> bytes:
        """The etcd key of ``/registry`` itself: the start of our key space."""
        return self._raw_prefix
