"""Continue tokens for paged lists, in the format the real API server uses
(apiserver ``storage/continue.go``): base64url of
``{"v":"meta.k8s.io/v1","rv":REV,"start":"KEY-RELATIVE-TO-PREFIX"}``.

The token pins the revision of the first page, so every page of one listing
reads the same snapshot.
"""

from __future__ import annotations

import base64
import binascii
import posixpath

import orjson

from pyk8s.storage.interface import InvalidContinueError

_VERSION = "meta.k8s.io/v1"


def encode(revision: int, prefix: str, next_key: str) -> str:
    """A token resuming a listing of ``prefix`` at ``next_key`` (inclusive)."""
    if not next_key.startswith(prefix):
        raise ValueError(f"{next_key!r} is not under {prefix!r}")
    start = next_key[len(prefix) :]
    raw = orjson.dumps({"v": _VERSION, "rv": revision, "start": start})
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def after(key: str) -> str:
    """The smallest key greater than ``key``."""
    return key + "\x00"


def decode(token: str, prefix: str) -> tuple[int, str]:
    """(revision, absolute start key); InvalidContinueError if it is not ours."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        data = orjson.loads(raw)
    except (binascii.Error, ValueError, orjson.JSONDecodeError) as e:
        raise InvalidContinueError(f"continue key is not valid: {e}") from None
    if not isinstance(data, dict) or data.get("v") != _VERSION:
        raise InvalidContinueError("continue key is not valid: incorrect encoded start key")
    rv, start = data.get("rv"), data.get("start")
    if not isinstance(rv, int) or isinstance(rv, bool) or rv <= 0:
        raise InvalidContinueError("continue key is not valid: incorrect encoded resourceVersion")
    if not isinstance(start, str) or not start:
        raise InvalidContinueError("continue key is not valid: encoded start key empty")
    # The start key must stay inside the prefix: upstream rejects any key that
    # path.Clean would change (``..``, ``//``, a trailing slash).
    rooted = start if start.startswith("/") else "/" + start
    if posixpath.normpath(rooted) != rooted or rooted.startswith("//"):
        raise InvalidContinueError(f"continue key is not valid: {start}")
    return rv, prefix + start
