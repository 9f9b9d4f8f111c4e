from __future__ import annotations

from pyk8s.controllers import rootcacert, serviceaccount
from pyk8s.controllers.resources import CONFIGMAPS, NAMESPACES, SERVICEACCOUNTS
from tests.unit.controllers.conftest import Harness, obj


def _ns(name: str, phase: str = "Active") -> dict[str, object]:
    return obj("Namespace", name, None, status={"phase": phase})


async def test_creates_default_service_account(harness: Harness) -> None:
    harness.client.add(NAMESPACES, _ns("team"))
    ctl = await harness.start(serviceaccount.new)
    await ctl.reconcile("team")
    assert harness.verbs() == [("create", "serviceaccounts")]
    created = harness.writes()[0].object
    assert created is not None
    assert (created["metadata"]["name"], created["metadata"]["namespace"]) == ("default", "team")


async def test_existing_account_is_left_alone(harness: Harness) -> None:
    harness.client.add(NAMESPACES, _ns("team"))
    harness.client.add(SERVICEACCOUNTS, obj("ServiceAccount", "default", "team"))
    ctl = await harness.start(serviceaccount.new)
    await ctl.reconcile("team")
    assert harness.verbs() == []


async def test_terminating_namespace_gets_nothing(harness: Harness) -> None:
    harness.client.add(NAMESPACES, _ns("going", "Terminating"))
    ctl = await harness.start(serviceaccount.new)
    await ctl.reconcile("going")
    assert harness.verbs() == []


async def test_deleted_default_account_requeues_namespace(harness: Harness) -> None:
    harness.client.add(NAMESPACES, _ns("team"))
    harness.client.add(SERVICEACCOUNTS, obj("ServiceAccount", "default", "team"))
    ctl = await harness.start(serviceaccount.new)
    while len(ctl.queue):  # drain the adds of the initial list
        ctl.queue.done(await ctl.queue.get())
    await harness.client.delete(SERVICEACCOUNTS, "default", "team")
    await harness.settle()
    assert await ctl.queue.get() == "team"


async def test_root_ca_published(harness: Harness) -> None:
    harness.client.add(NAMESPACES, _ns("team"))
    ctl = await harness.start(rootcacert.new)
    await ctl.reconcile("team")
    assert harness.verbs() == [("create", "configmaps")]
    cm = harness.client.objects(CONFIGMAPS)[0]
    assert cm["metadata"]["name"] == "kube-root-ca.crt"
    assert cm["data"] == {"ca.crt": "CA-PEM"}


async def test_root_ca_repaired_when_edited(harness: Harness) -> None:
    harness.client.add(NAMESPACES, _ns("team"))
    harness.client.add(
        CONFIGMAPS,
        obj("ConfigMap", "kube-root-ca.crt", "team", data={"ca.crt": "tampered", "x": "y"}),
    )
    ctl = await harness.start(rootcacert.new)
    await ctl.reconcile("team")
    assert harness.verbs() == [("update", "configmaps")]
    assert harness.client.objects(CONFIGMAPS)[0]["data"] == {"ca.crt": "CA-PEM"}
    harness.client.clear_actions()
    await harness.settle()
    await ctl.reconcile("team")
    assert harness.verbs() == []
