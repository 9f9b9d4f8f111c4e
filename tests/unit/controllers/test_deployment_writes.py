"""The deployment controller's ReplicaSet writes: stale-cache conflicts and its own writes."""

from __future__ import annotations

import copy

import pytest

from pyk8s.api import errors
from pyk8s.controllers import deployment
from pyk8s.controllers.resources import REPLICASETS
from tests.unit.controllers.conftest import Harness, obj


def new_rs() -> dict:  # type: ignore[type-arg]
    return obj(
        "ReplicaSet",
        "web-abc",
        spec={"replicas": 3, "selector": {"matchLabels": {"app": "web"}}},
        status={"replicas": 3, "readyReplicas": 2, "availableReplicas": 2},
    )


async def test_status_only_conflict_is_retried_over_the_fresh_object(harness: Harness) -> None:
    cached = harness.client.add(REPLICASETS, new_rs())
    ctl = await harness.start(deployment.new)
    fresh = copy.deepcopy(cached)
    fresh["status"]["readyReplicas"] = fresh["status"]["availableReplicas"] = 3
    await harness.client.update(REPLICASETS, fresh, "default", subresource="status")
    body = copy.deepcopy(cached)
    body["spec"]["replicas"] = 5
    written = await ctl._update_rs(cached, body)
    assert written["spec"]["replicas"] == 5
    assert written["status"]["availableReplicas"] == 3  # the status is not rolled back
    # the write is served to the next sync until the informer shows it
    assert ctl.mutations.newest(cached)["spec"]["replicas"] == 5


@pytest.mark.parametrize("change", ["spec", "less available"])
async def test_other_conflicts_abort_the_sync(harness: Harness, change: str) -> None:
    cached = harness.client.add(REPLICASETS, new_rs())
    ctl = await harness.start(deployment.new)
    fresh = copy.deepcopy(cached)
    if change == "spec":
        fresh["spec"]["replicas"] = 1
        await harness.client.update(REPLICASETS, fresh, "default")
    else:
        fresh["status"]["availableReplicas"] = 1
        await harness.client.update(REPLICASETS, fresh, "default", subresource="status")
    body = copy.deepcopy(cached)
    body["spec"]["replicas"] = 5
    with pytest.raises(errors.Conflict):
        await ctl._update_rs(cached, body)
