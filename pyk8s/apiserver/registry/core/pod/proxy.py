"""``pods/proxy``: requests relayed to a pod's IP
(``/api/v1/namespaces/<ns>/pods/<pod>[:port]/proxy/...``).

Mirrors ``pkg/registry/core/pod/rest/subresources.go`` (``ProxyREST.Connect``) and
``pkg/registry/core/pod/strategy.go`` (``ResourceLocation``: the id is ``pod``, ``pod:port``
or ``scheme:pod:port``; without a port, the first port any container declares; the pod's
first IP must be a global unicast address, else 400 ``address not allowed``).
"""

from __future__ import annotations

from pyk8s.api import errors
from pyk8s.apiserver.proxy import address, handler, transport
from pyk8s.apiserver.registry.generic import store as generic
from pyk8s.apiserver.registry.generic.strategy import Obj


def pod_ip(pod: Obj) -> str:
    st = pod.get("status") or {}
    ips = [p.get("ip", "") for p in st.get("podIPs") or []]
    return str(ips[0] if ips and ips[0] else st.get("podIP") or "")


def first_port(pod: Obj) -> str:
    for c in (pod.get("spec") or {}).get("containers") or []:
        ports = c.get("ports") or []
        if ports:
            return str(ports[0].get("containerPort", ""))
    return ""


async def location(pods: generic.Store, namespace: str, id_: str, path: str) -> handler.Location:
    split = handler.split_scheme_name_port(id_)
    if split is None:
        raise errors.BadRequest(f'invalid pod request "{id_}"')
    scheme, name, port = split
    pod = await pods.get(namespace, name)
    port = port or first_port(pod)
    ip = pod_ip(pod)
    if not address.global_unicast(ip):
        raise errors.BadRequest("address not allowed")
    number = address.port_number(port, "pod") if port else None
    return handler.Location(scheme, ip, number, transport.join("", path))
