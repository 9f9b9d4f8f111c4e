"""Creating and deleting an owner's pods, with the owner's events.

Mirrors ``pkg/controller/controller_utils.go`` (``RealPodControl``: ``CreatePods`` records
``SuccessfulCreate`` "Created pod: <name>" or ``FailedCreate`` "Error creating: <err>" on
the owner; ``DeletePod`` ``SuccessfulDelete`` "Deleted pod: <name>" or ``FailedDelete``
"Error deleting: <err>") and the deletions of ``replica_set.go``'s ``manageReplicas`` and
``daemon_controller.go``'s ``syncNodes``, in parallel, each observed by the expectations when
it fails (a pod already gone counts as deleted).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

from pyk8s.api import errors
from pyk8s.client import events, rest
from pyk8s.client.cache import store
from pyk8s.controllers import expectations as expectations_
from pyk8s.controllers.resources import PODS

Object = Mapping[str, Any]


class PodControl:
    def __init__(self, client: rest.Interface, recorder: events.EventRecorder) -> None:
        self.client = client
        self.recorder = recorder

    async def create(self, owner: Object, body: dict[str, Any], namespace: str) -> Object:
        try:
            pod = await self.client.create(PODS, body, namespace)
        except errors.ApiError as e:
            self.recorder.event(
                owner, events.WARNING, "FailedCreate", "Create", f"Error creating: {e}"
            )
            raise
        name = pod["metadata"]["name"]
        self.recorder.event(
            owner, events.NORMAL, "SuccessfulCreate", "Create", f"Created pod: {name}"
        )
        return pod

    async def delete_all(
        self,
        owner: Object,
        victims: Sequence[Object],
        expectations: expectations_.Expectations,
        key: str,
    ) -> list[BaseException]:
        """Delete ``victims`` in parallel; the errors, in the victims' order."""

        async def delete_one(pod: Object) -> None:
            md = pod["metadata"]
            try:
                await self.client.delete(PODS, md["name"], md["namespace"])
            except errors.NotFound:
                expectations.deletion_observed(key, store.meta_namespace_key(pod))
                return
            except errors.ApiError as e:
                expectations.deletion_observed(key, store.meta_namespace_key(pod))
                self.recorder.event(
                    owner, events.WARNING, "FailedDelete", "Delete", f"Error deleting: {e}"
                )
                raise
            self.recorder.event(
                owner, events.NORMAL, "SuccessfulDelete", "Delete", f"Deleted pod: {md['name']}"
            )

        results = await asyncio.gather(*(delete_one(p) for p in victims), return_exceptions=True)
        return [r for r in results if isinstance(r, BaseException)]
