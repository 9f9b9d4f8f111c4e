"""The real ``kubernetes`` Python client against a real ``pyk8s apiserver``."""

from __future__ import annotations

import threading

import pytest
from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException

from tests.e2e.apiserver.conftest import Server

pytestmark = pytest.mark.e2e


@pytest.fixture
def core(server: Server) -> client.CoreV1Api:
    api = config.new_client_from_config(config_file=str(server.kubeconfig))
    return client.CoreV1Api(api)


def test_list_create_get_delete(core: client.CoreV1Api) -> None:
    names = {n.metadata.name for n in core.list_namespace().items}
    assert {"default", "kube-system"} <= names
    body = client.V1ConfigMap(metadata=client.V1ObjectMeta(name="py"), data={"a": "b"})
    created = core.create_namespaced_config_map("default", body)
    assert created.metadata.uid
    got = core.read_namespaced_config_map("py", "default")
    assert got.data == {"a": "b"}
    got.data = {"a": "c"}
    core.replace_namespaced_config_map("py", "default", got)
    with pytest.raises(ApiException) as exc:
        core.replace_namespaced_config_map("py", "default", got)  # stale resourceVersion
    assert exc.value.status == 409
    core.delete_namespaced_config_map("py", "default")
    with pytest.raises(ApiException) as exc:
        core.read_namespaced_config_map("py", "default")
    assert exc.value.status == 404


def test_watch_sees_changes_after_list(core: client.CoreV1Api) -> None:
    listing = core.list_namespaced_config_map("default")
    rv = listing.metadata.resource_version
    seen: list[tuple[str, str]] = []

    def run() -> None:
        w = watch.Watch()
        for ev in w.stream(
            core.list_namespaced_config_map, "default", resource_version=rv, timeout_seconds=5
        ):
            seen.append((ev["type"], ev["object"].metadata.name))
            if len(seen) == 2:
                w.stop()

    t = threading.Thread(target=run)
    t.start()
    core.create_namespaced_config_map(
        "default", client.V1ConfigMap(metadata=client.V1ObjectMeta(name="watched"))
    )
    core.delete_namespaced_config_map("watched", "default")
    t.join(15)
    assert seen == [("ADDED", "watched"), ("DELETED", "watched")]


def test_pod_table_of_the_client_is_typed(core: client.CoreV1Api) -> None:
    pod = client.V1Pod(
        metadata=client.V1ObjectMeta(name="typed", labels={"k": "v"}),
        spec=client.V1PodSpec(containers=[client.V1Container(name="c", image="busybox")]),
    )
    core.create_namespaced_pod("default", pod)
    pods = core.list_namespaced_pod("default", label_selector="k=v")
    assert [p.metadata.name for p in pods.items] == ["typed"]
    assert pods.items[0].status.phase == "Pending"
    core.delete_namespaced_pod("typed", "default")
