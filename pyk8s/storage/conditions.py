"""Preconditions and the no-op check shared by every backend's conditional writes
(apiserver ``storage.Preconditions.Check`` and etcd3 ``store.go`` GuaranteedUpdate)."""

from __future__ import annotations

import orjson

from pyk8s.storage.interface import KeyValue, PreconditionError, Preconditions

MAX_UPDATE_ATTEMPTS = 1000
"""How often ``guaranteed_update`` re-reads after losing a race before giving up."""


def stored_uid(value: bytes) -> str | None:
    try:
        obj = orjson.loads(value)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(obj, dict):
        return None
    meta = obj.get("metadata")
    if not isinstance(meta, dict):
        return None
    uid = meta.get("uid")
    return uid if isinstance(uid, str) else None


def check(kv: KeyValue, preconditions: Preconditions | None) -> None:
    """Raise PreconditionError when ``kv`` does not satisfy ``preconditions``."""
    if preconditions is None:
        return
    if preconditions.uid is not None:
        uid = stored_uid(kv.value)
        if uid != preconditions.uid:
            raise PreconditionError(
                kv.key,
                f"Precondition failed: UID in precondition: {preconditions.uid}, "
                f"UID in object meta: {uid or ''}",
            )
    rv = preconditions.resource_version
    if rv is not None and rv != kv.mod_revision:
        raise PreconditionError(
            kv.key,
            f"Precondition failed: ResourceVersion in precondition: {rv}, "
            f"ResourceVersion in object meta: {kv.mod_revision}",
        )


def empty(key: str) -> KeyValue:
    """What ``try_update`` sees for a missing key under ``ignore_not_found``."""
    return KeyValue(key=key, value=b"", create_revision=0, mod_revision=0)
