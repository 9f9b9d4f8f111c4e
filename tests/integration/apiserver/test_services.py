"""Service cluster IP and node port allocation through the API."""

from __future__ import annotations

from typing import Any

from tests.integration.apiserver.conftest import Client

SVCS = "/api/v1/namespaces/default/services"
IPS = "/apis/networking.k8s.io/v1/ipaddresses"


def svc(name: str, **spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"ports": [{"port": 80}], "selector": {"app": name}}
    body.update(spec)
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name}, "spec": body}


async def test_cluster_ip_is_allocated_and_released(client: Client) -> None:
    status, s = await client.post(SVCS, svc("a"))
    assert status == 201
    ip = s["spec"]["clusterIP"]
    assert ip.startswith("10.43.") and s["spec"]["clusterIPs"] == [ip]
    assert s["spec"]["ports"] == [{"port": 80, "protocol": "TCP", "targetPort": 80}]
    status, addr = await client.get(f"{IPS}/{ip}")
    assert status == 200
    assert addr["spec"]["parentRef"] == {
        "group": "",
        "resource": "services",
        "namespace": "default",
        "name": "a",
    }
    status, err = await client.post(SVCS, svc("b", clusterIP=ip))
    assert (status, err["reason"]) == (422, "Invalid")
    assert "provided IP is already allocated" in err["message"]
    status, err = await client.post(SVCS, svc("c", clusterIP="192.168.0.1"))
    assert status == 422 and "not in the valid range" in err["message"]
    # An update without clusterIP keeps it; changing it is refused.
    s["spec"].pop("clusterIP")
    s["spec"].pop("clusterIPs")
    status, s2 = await client.put(SVCS + "/a", s)
    assert status == 200 and s2["spec"]["clusterIP"] == ip
    s2["spec"]["clusterIP"] = "10.43.99.99"
    s2["spec"]["clusterIPs"] = ["10.43.99.99"]
    status, err = await client.put(SVCS + "/a", s2)
    assert status == 422 and err["message"] == (
        'Service "a" is invalid: spec.clusterIPs[0]: Invalid value: []string{"10.43.99.99"}: '
        "may not change once set"
    )
    await client.delete(SVCS + "/a")
    assert (await client.get(f"{IPS}/{ip}"))[0] == 404
    status, s = await client.post(SVCS, svc("d", clusterIP=ip))
    assert status == 201 and s["spec"]["clusterIP"] == ip


async def test_headless_and_external_name(client: Client) -> None:
    status, s = await client.post(SVCS, svc("hl", clusterIP="None"))
    assert status == 201 and s["spec"]["clusterIP"] == "None"
    assert (s["spec"]["ipFamilyPolicy"], s["spec"]["ipFamilies"]) == ("SingleStack", ["IPv4"])
    # initIPFamilyFields: headless without a selector defaults to dual-stack families
    bare = svc("hl2", clusterIP="None")
    del bare["spec"]["selector"]
    status, s = await client.post(SVCS, bare)
    assert status == 201, s
    assert (s["spec"]["ipFamilyPolicy"], s["spec"]["ipFamilies"]) == (
        "RequireDualStack",
        ["IPv4", "IPv6"],
    )
    status, s = await client.put(SVCS + "/hl2", s)
    assert status == 200, s
    assert s["spec"]["ipFamilies"] == ["IPv4", "IPv6"]
    ext = svc("ext", type="ExternalName", externalName="example.com")
    del ext["spec"]["selector"]
    status, s = await client.post(SVCS, ext)
    assert status == 201 and "clusterIP" not in s["spec"]


async def test_node_ports(client: Client) -> None:
    status, s = await client.post(SVCS, svc("np", type="NodePort"))
    assert status == 201
    port = s["spec"]["ports"][0]["nodePort"]
    assert 30000 <= port <= 32767
    assert s["spec"]["externalTrafficPolicy"] == "Cluster"
    fixed = svc("np2", type="NodePort", ports=[{"port": 80, "nodePort": port}])
    status, err = await client.post(SVCS, fixed)
    assert status == 422 and "provided port is already allocated" in err["message"]
    # Back to ClusterIP releases the port for others.
    s["spec"]["type"] = "ClusterIP"
    s["spec"].pop("externalTrafficPolicy")
    status, s = await client.put(SVCS + "/np", s)
    assert status == 200 and "nodePort" not in s["spec"]["ports"][0]
    status, s = await client.post(SVCS, fixed)
    assert status == 201 and s["spec"]["ports"][0]["nodePort"] == port


async def test_duplicate_service_is_already_exists_and_keeps_its_ip(client: Client) -> None:
    status, _ = await client.post(SVCS, svc("dup", clusterIP="10.43.7.7"))
    assert status == 201
    status, err = await client.post(SVCS, svc("dup", clusterIP="10.43.7.7"))
    assert (status, err["reason"]) == (409, "AlreadyExists")
    assert (await client.get(f"{IPS}/10.43.7.7"))[0] == 200
