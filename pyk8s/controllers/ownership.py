"""ControllerRef: who controls an object, adopting orphans and releasing strays.

Mirrors ``pkg/controller/controller_ref_manager.go`` (``ClaimObject``: an object
controlled by us whose labels stopped matching is released; a matching orphan
is adopted once a fresh read of the owner shows it is not being deleted
(``RecheckDeletionTimestamp``); objects of other controllers are left alone)
and ``metav1.GetControllerOf`` / ``NewControllerRef``.

Adoption and release are JSON merge patches of the whole ``ownerReferences``
list that also carry ``metadata.uid``, so they cannot land on a namesake.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from pyk8s.api import errors
from pyk8s.client import rest

log = logging.getLogger(__name__)

Object = Mapping[str, Any]


def controller_of(obj: Object) -> Mapping[str, Any] | None:
    """The owner reference with ``controller: true``, if any."""
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or []:
        if ref.get("controller"):
            return ref  # type: ignore[no-any-return]
    return None


CONTROLLER_UID_INDEX = "controllerUID"
"""Objects by the uid of their controller, orphans under ``orphan/<namespace>``
(upstream ``PodControllerUIDIndex`` and ``OrphanPodIndexKey``)."""


def controller_uid_index(obj: Object) -> list[str]:
    ref = controller_of(obj)
    if ref is not None and ref.get("uid"):
        return [str(ref["uid"])]
    return [orphan_key((obj.get("metadata") or {}).get("namespace") or "")]


def orphan_key(namespace: str) -> str:
    return f"orphan/{namespace}"


def ensure_controller_index(informer: Any) -> None:
    """Add the controller-uid index to ``informer`` unless another controller did."""
    if CONTROLLER_UID_INDEX not in informer.store.indexers:
        informer.add_indexers({CONTROLLER_UID_INDEX: controller_uid_index})


def controller_ref(owner: Object, api_version: str, kind: str) -> dict[str, Any]:
    md = owner["metadata"]
    return {
        "apiVersion": api_version,
        "kind": kind,
        "name": md["name"],
        "uid": md["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def labels_of(obj: Object) -> Mapping[str, str]:
    labels: Mapping[str, str] = (obj.get("metadata") or {}).get("labels") or {}
    return labels


class RefManager:
    """Claims objects of ``ref`` for ``owner`` (one per sync, like upstream's)."""

    def __init__(
        self,
        client: rest.Interface,
        ref: rest.ResourceRef,
        owner: Object,
        owner_api_version: str,
        owner_kind: str,
        selector: Any,
        can_adopt: Callable[[], Awaitable[None]],
    ) -> None:
        self.client = client
        self.ref = ref
        self.owner = owner
        self.owner_ref = controller_ref(owner, owner_api_version, owner_kind)
        self.selector = selector
        self._can_adopt = can_adopt
        self._adopt_checked: BaseException | bool | None = False

    async def claim(
        self, objs: Sequence[Object], extra: Callable[[Object], bool] | None = None
    ) -> list[Object]:
        """The objects ``owner`` controls after adopting and releasing; raises on API errors."""
        out: list[Object] = []
        uid = self.owner["metadata"]["uid"]
        owner_deleting = bool(self.owner["metadata"].get("deletionTimestamp"))
        for obj in objs:
            matches = self.selector.matches(labels_of(obj)) and (extra is None or extra(obj))
            ref = controller_of(obj)
            if ref is not None:
                if ref.get("uid") != uid:
                    continue
                if matches:
                    out.append(obj)
                    continue
                if owner_deleting or obj["metadata"].get("deletionTimestamp"):
                    continue
                await self._release(obj)
                continue
            if not matches or owner_deleting or obj["metadata"].get("deletionTimestamp"):
                continue
            if not await self._adoptable():
                continue
            adopted = await self._adopt(obj)
            if adopted is not None:
                out.append(adopted)
        return out

    async def _adoptable(self) -> bool:
        if self._adopt_checked is False:
            try:
                await self._can_adopt()
                self._adopt_checked = None
            except Exception as e:
                self._adopt_checked = e
        if isinstance(self._adopt_checked, BaseException):
            log.info("not adopting for %s: %s", self.owner["metadata"]["name"], self._adopt_checked)
            return False
        return True

    async def _adopt(self, obj: Object) -> Object | None:
        md = obj["metadata"]
        refs = [dict(r) for r in md.get("ownerReferences") or []] + [self.owner_ref]
        patch = {"metadata": {"ownerReferences": refs, "uid": md["uid"]}}
        try:
            return await self.client.patch(self.ref, md["name"], patch, md.get("namespace"))
        except errors.NotFound:
            return None

    async def _release(self, obj: Object) -> None:
        md = obj["metadata"]
        uid = self.owner["metadata"]["uid"]
        refs = [dict(r) for r in md.get("ownerReferences") or [] if r.get("uid") != uid]
        patch = {"metadata": {"ownerReferences": refs or None, "uid": md["uid"]}}
        with contextlib.suppress(errors.NotFound, errors.Invalid):
            await self.client.patch(self.ref, md["name"], patch, md.get("namespace"))


async def recheck_not_deleting(
    client: rest.Interface, ref: rest.ResourceRef, owner: Object
) -> None:
    """Raise unless a fresh read shows ``owner`` (same uid) and not being deleted."""
    md = owner["metadata"]
    fresh = await client.get(ref, md["name"], md.get("namespace"))
    if fresh["metadata"].get("uid") != md.get("uid"):
        got = fresh["metadata"].get("uid")
        raise RuntimeError(f"original {ref.plural} {md['name']} is gone: got uid {got}")
    if fresh["metadata"].get("deletionTimestamp"):
        raise RuntimeError(f"{ref.plural} {md['name']} has just been deleted")
