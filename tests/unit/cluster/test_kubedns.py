"""The kube-dns Service and its EndpointSlice, as pyk8s server publishes them."""

from __future__ import annotations

import argparse

import pytest

from pyk8s.api import errors
from pyk8s.client import fake
from pyk8s.cluster import kubedns, settings


async def test_ensure_creates_once_and_follows_the_listen_address() -> None:
    client = fake.Client()
    config = kubedns.KubeDNSConfig(cluster_ip="10.43.0.10", listen_ip="192.0.2.2", port=53)
    await kubedns.ensure(client, config)
    await kubedns.ensure(client, config)  # a restart: nothing to change, no error
    svc = await client.get(kubedns.SERVICES, "kube-dns", "kube-system")
    assert svc["spec"]["clusterIP"] == "10.43.0.10"
    assert svc["metadata"]["labels"]["k8s-app"] == "kube-dns"
    assert [(p["name"], p["port"], p["protocol"]) for p in svc["spec"]["ports"]] == [
        ("dns", 53, "UDP"),
        ("dns-tcp", 53, "TCP"),
        ("metrics", 9153, "TCP"),
    ]
    assert "selector" not in svc["spec"]  # the endpoint is ours, not the endpointslice controller's

    moved = kubedns.KubeDNSConfig(cluster_ip="10.43.0.10", listen_ip="192.0.2.7", port=5353)
    await kubedns.ensure(client, moved)
    eps = await client.get(kubedns.ENDPOINT_SLICES, "kube-dns", "kube-system")
    assert eps["metadata"]["labels"]["kubernetes.io/service-name"] == "kube-dns"
    assert eps["endpoints"][0]["addresses"] == ["192.0.2.7"]
    assert {(p["port"], p["protocol"]) for p in eps["ports"]} == {(5353, "UDP"), (5353, "TCP")}


async def test_with_a_node_the_service_selects_the_pod_that_shows_the_server() -> None:
    client = fake.Client()
    bare = kubedns.KubeDNSConfig(cluster_ip="10.43.0.10", listen_ip="192.0.2.2", port=53)
    await kubedns.ensure(client, bare)  # an earlier start without an agent
    config = kubedns.KubeDNSConfig(
        cluster_ip="10.43.0.10", listen_ip="192.0.2.2", port=5353, node_name="n1"
    )
    await kubedns.ensure(client, config)
    svc = await client.get(kubedns.SERVICES, "kube-dns", "kube-system")
    assert svc["spec"]["selector"] == {"k8s-app": "kube-dns"}
    assert [p["targetPort"] for p in svc["spec"]["ports"]] == ["dns", "dns-tcp", "metrics"]
    with pytest.raises(errors.NotFound):  # the endpointslice controller's job now
        await client.get(kubedns.ENDPOINT_SLICES, "kube-dns", "kube-system")

    # Not before the node is registered (the pod GC would take a pod of no node for an orphan)
    assert not await kubedns.ensure_pod(client, config, True, "2026-01-01T00:00:00Z")
    with pytest.raises(errors.NotFound):
        await client.get(kubedns.PODS, "coredns-n1", "kube-system")
    await client.create(
        kubedns.NODES, {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"}}
    )
    assert await kubedns.ensure_pod(client, config, True, "2026-01-01T00:00:00Z")
    pod = await client.get(kubedns.PODS, "coredns-n1", "kube-system")
    assert pod["metadata"]["labels"] == {"k8s-app": "kube-dns"}
    assert kubedns.MIRROR in pod["metadata"]["annotations"]  # the kubelet leaves it alone
    assert pod["spec"]["nodeName"] == "n1" and pod["spec"]["hostNetwork"]
    ports = {
        (p["name"], p["containerPort"], p["protocol"])
        for p in pod["spec"]["containers"][0]["ports"]
    }
    assert ports == {("dns", 5353, "UDP"), ("dns-tcp", 5353, "TCP")}
    status = pod["status"]
    assert status["phase"] == "Running" and status["podIP"] == "192.0.2.2"
    assert {c["type"]: c["status"] for c in status["conditions"]}["Ready"] == "True"
    assert status["containerStatuses"][0]["ready"]
    uid = pod["metadata"]["uid"]

    # Cannot listen: not ready; then deleted: back; then moved: recreated.
    await kubedns.ensure_pod(client, config, False, "2026-01-01T00:00:01Z")
    pod = await client.get(kubedns.PODS, "coredns-n1", "kube-system")
    assert {c["type"]: c["status"] for c in pod["status"]["conditions"]}["Ready"] == "False"
    assert pod["metadata"]["uid"] == uid
    await client.delete(kubedns.PODS, "coredns-n1", "kube-system")
    await kubedns.ensure_pod(client, config, True, "2026-01-01T00:00:02Z")
    assert (await client.get(kubedns.PODS, "coredns-n1", "kube-system"))["status"]["podIP"]
    moved = kubedns.KubeDNSConfig(
        cluster_ip="10.43.0.10", listen_ip="192.0.2.9", port=5353, node_name="n1"
    )
    await kubedns.ensure_pod(client, moved, True, "2026-01-01T00:00:03Z")
    pod = await client.get(kubedns.PODS, "coredns-n1", "kube-system")
    assert pod["status"]["podIP"] == "192.0.2.9"


def _server_args(*argv: str) -> argparse.Namespace:
    p = argparse.ArgumentParser()
    settings.add_storage_flags(p)
    settings.add_apiserver_flags(p)
    settings.add_registry_flags(p)
    settings.add_component_flags(p)
    return p.parse_args(list(argv))


def test_cluster_dns_defaults_to_the_tenth_service_address() -> None:
    s = settings.ClusterSettings.from_args(
        _server_args("--data-dir", "/tmp/x", "--service-cidr", "10.143.0.0/16")
    )
    assert s.kube_dns is not None and s.kube_dns.cluster_ip == "10.143.0.10"
    assert s.kubelet is not None and s.kube_dns.node_name == s.kubelet.node_name
    assert s.kubelet is not None and s.kubelet.cluster_dns == ("10.143.0.10",)
    assert s.proxy is not None and s.proxy.chain_prefix.startswith("P")


def test_cluster_dns_outside_the_service_range_is_refused() -> None:
    with pytest.raises(SystemExit, match="not in the service CIDR"):
        settings.ClusterSettings.from_args(_server_args("--cluster-dns", "10.99.0.10"))


def test_disable_flags() -> None:
    s = settings.ClusterSettings.from_args(
        _server_args("--disable-kube-dns", "--disable-kube-proxy")
    )
    assert s.kube_dns is None and s.proxy is None
    s = settings.ClusterSettings.from_args(_server_args("--disable-agent"))
    assert s.proxy is None and s.kube_dns is not None and s.kube_dns.node_name == ""
