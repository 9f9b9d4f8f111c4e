"""The event recorder against the in-test API server, on a fake clock."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest

from pyk8s.client import clock, events, kubeconfig, rest

from .fakeapi import FakeApi, serving, status

EVENTS = "/apis/events.k8s.io/v1/events"
POD = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "web-1", "namespace": "team", "uid": "u-1", "resourceVersion": "7"},
}
NODE = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1", "uid": "u-n"}}


@pytest.fixture
def api() -> FakeApi:
    return FakeApi()


@pytest.fixture
async def client(api: FakeApi) -> AsyncIterator[rest.Client]:
    async with serving(api) as url, rest.Client(kubeconfig.Config(url)) as c:
        yield c


@pytest.fixture
def fc() -> clock.FakeClock:
    return clock.FakeClock()


def recorder(client: rest.Client, fc: clock.FakeClock) -> events.EventRecorder:
    return events.EventRecorder(client, "replicaset-controller", "kcm-1", clock=fc)


def stored(api: FakeApi) -> list[dict[str, Any]]:
    return [o for (coll, _, _), o in api.objects.items() if coll == EVENTS]


async def test_first_event_is_created(
    api: FakeApi, client: rest.Client, fc: clock.FakeClock
) -> None:
    r = recorder(client, fc)
    r.event(
        POD,
        events.NORMAL,
        "SuccessfulCreate",
        "Create",
        "Created pod: web-1-abc",
        related={
            "kind": "ReplicaSet",
            "apiVersion": "apps/v1",
            "metadata": {"name": "web", "namespace": "team"},
        },
    )
    await r.flush()
    [ev] = stored(api)
    assert ev["metadata"]["namespace"] == "team"
    assert ev["metadata"]["name"].startswith("web-1.")
    assert int(ev["metadata"]["name"].split(".")[1], 16) == int(fc.wall().timestamp() * 1e9)
    assert ev["eventTime"] == "2026-01-01T00:00:00.000000Z"
    assert ev["regarding"] == {
        "apiVersion": "v1",
        "kind": "Pod",
        "name": "web-1",
        "namespace": "team",
        "uid": "u-1",
        "resourceVersion": "7",
    }
    assert ev["related"] == {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "name": "web",
        "namespace": "team",
    }
    assert (ev["reportingController"], ev["reportingInstance"]) == (
        "replicaset-controller",
        "kcm-1",
    )
    assert (ev["type"], ev["reason"], ev["action"], ev["note"]) == (
        "Normal",
        "SuccessfulCreate",
        "Create",
        "Created pod: web-1-abc",
    )
    assert "series" not in ev


async def test_repeats_become_a_series(
    api: FakeApi, client: rest.Client, fc: clock.FakeClock
) -> None:
    r = recorder(client, fc)
    r.event(POD, events.WARNING, "FailedCreate", "Create", "quota exceeded")
    await r.flush()
    fc.advance(10)
    r.event(POD, events.WARNING, "FailedCreate", "Create", "quota exceeded again")
    await r.flush()
    [ev] = stored(api)
    assert ev["series"] == {"count": 2, "lastObservedTime": "2026-01-01T00:00:10.000000Z"}
    patch = api.requests[-1]
    assert patch.method == "PATCH"
    assert patch.headers["Content-Type"] == "application/merge-patch+json"
    assert orjson.loads(patch.body) == {"series": ev["series"]}
    writes = len(api.requests)
    for _ in range(5):
        fc.advance(1)
        r.event(POD, events.WARNING, "FailedCreate", "Create", "quota exceeded")
    await r.flush()
    assert len(api.requests) == writes  # counted locally, not written each time
    # A different reason is a different event.
    r.event(POD, events.WARNING, "FailedDelete", "Delete", "x")
    await r.flush()
    assert len(stored(api)) == 2


async def test_quiet_series_is_finished_and_restarted(
    api: FakeApi, client: rest.Client, fc: clock.FakeClock
) -> None:
    r = recorder(client, fc)
    task = asyncio.create_task(r.run())
    try:
        for _ in range(4):
            r.event(POD, events.NORMAL, "Pulled", "Pull", "image pulled")
            await r.flush()
        [ev] = stored(api)
        assert ev["series"]["count"] == 2
        fc.advance(events.FINISH_TIME * 2 + 1)  # quiet for longer than 6 minutes
        await r.flush()
        [ev] = stored(api)
        assert ev["series"]["count"] == 4  # the final count was written
        r.event(POD, events.NORMAL, "Pulled", "Pull", "image pulled")
        await r.flush()
        assert len(stored(api)) == 2  # a new Event starts a new series
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert fc.pending() == 0


async def test_cluster_scoped_objects_get_events_in_default(
    api: FakeApi, client: rest.Client, fc: clock.FakeClock
) -> None:
    r = recorder(client, fc)
    r.event(NODE, events.NORMAL, "NodeReady", "Ready", "n1 is ready")
    await r.flush()
    [ev] = stored(api)
    assert ev["metadata"]["namespace"] == "default"
    assert "namespace" not in ev["regarding"]


async def test_bad_type_is_refused(client: rest.Client, fc: clock.FakeClock) -> None:
    with pytest.raises(ValueError, match="Normal or Warning"):
        recorder(client, fc).event(POD, "Info", "R", "A", "n")


async def test_long_notes_are_cut(api: FakeApi, client: rest.Client, fc: clock.FakeClock) -> None:
    r = recorder(client, fc)
    r.event(POD, events.NORMAL, "R", "A", "x" * 5000)
    await r.flush()
    assert len(stored(api)[0]["note"]) == events.NOTE_MAX


async def test_rejected_event_is_not_retried(
    api: FakeApi, client: rest.Client, fc: clock.FakeClock
) -> None:
    api.fail_next(422, status(422, "Invalid", "bad event"))
    r = recorder(client, fc)
    r.event(POD, events.NORMAL, "R", "A", "n")
    await r.flush()
    assert len(api.requests) == 1
    assert stored(api) == []


async def test_unreachable_server_is_retried_then_given_up(fc: clock.FakeClock) -> None:
    async with rest.Client(kubeconfig.Config("http://127.0.0.1:1")) as c:
        r = events.EventRecorder(c, "x", "y", clock=fc)
        r.event(POD, events.NORMAL, "R", "A", "n")
        flushing = asyncio.create_task(r.flush())
        sleeps = 0
        while not flushing.done():
            await asyncio.sleep(0.005)
            if fc.pending():
                sleeps += 1
                fc.advance(events.RETRY_SLEEP * 1.25)
        await flushing
    assert sleeps == events.MAX_TRIES - 1


async def test_full_queue_drops(client: rest.Client, fc: clock.FakeClock) -> None:
    r = recorder(client, fc)
    for _ in range(events.MAX_QUEUED + 3):
        r.event(POD, events.NORMAL, "R", "A", "n")
    assert r.dropped == 3
