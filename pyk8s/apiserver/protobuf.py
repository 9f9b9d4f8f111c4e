"""Decoding of Kubernetes protobuf request bodies (``k8s\\x00`` + ``runtime.Unknown``).

Placeholder until the message modules compiled from upstream's
``generated.proto`` are available: every protobuf body gets 415 with a clear
message, never a crash.
"""

from __future__ import annotations

from typing import Any

from pyk8s.api import errors

MAGIC = b"k8s\x00"


def decode(body: bytes) -> Any:
    if not body.startswith(MAGIC):
        raise errors.UnsupportedMediaType(
            "the protobuf body does not start with the Kubernetes envelope magic k8s\\x00"
        )
    raise errors.UnsupportedMediaType(
        "protobuf request bodies are not supported by this server yet; send "
        "application/json (for kubectl: use `kubectl create -f` with a manifest)"
    )
