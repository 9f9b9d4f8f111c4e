"""``services/proxy``: requests relayed to one of a Service's endpoints
(``/api/v1/namespaces/<ns>/services/<svc>[:port]/proxy/...``), which is what
``kubectl proxy`` users open in a browser.

Mirrors ``pkg/registry/core/service/proxy.go`` (``ProxyREST.Connect``) and
``pkg/registry/core/service/storage/storage.go`` (``ResourceLocation``: the id is ``svc``,
``svc:port`` or ``scheme:svc:port`` where the port is a port's name or number; a number is
turned into that Service port's name, else 503 ``no service port N found for service``;
the Endpoints object is read, a subset is picked at random among those with addresses and
the port, then an address at random among those whose target Pod really has that IP
(``isValidAddress``); none: 503 ``no endpoints available for service``).
"""

from __future__ import annotations

import random

from pyk8s.api import errors
from pyk8s.apiserver.proxy import handler, transport
from pyk8s.apiserver.registry.generic import store as generic
from pyk8s.apiserver.registry.generic.strategy import Obj


async def _valid_address(pods: generic.Store, addr: Obj) -> bool:
    """The address's target Pod exists and has that IP (endpoints could be forged)."""
    ref = addr.get("targetRef") or {}
    if ref.get("kind") != "Pod":
        return False
    try:
        pod = await pods.get(ref.get("namespace", ""), ref.get("name", ""))
    except errors.NotFound:
        return False
    st = pod.get("status") or {}
    ips = {p.get("ip") for p in st.get("podIPs") or []} | {st.get("podIP")}
    return addr.get("ip") in ips


async def location(
    services: generic.Store,
    endpoints: generic.Store,
    pods: generic.Store,
    namespace: str,
    id_: str,
    path: str,
    rng: random.Random | None = None,
) -> handler.Location:
    rng = rng or random.Random()
    split = handler.split_scheme_name_port(id_)
    if split is None:
        raise errors.BadRequest(f'invalid service request "{id_}"')
    scheme, name, port = split
    if port.isdigit():
        svc = await services.get(namespace, name)
        ports = ((svc.get("spec") or {}).get("ports")) or []
        match = next((p for p in ports if str(p.get("port")) == str(int(port))), None)
        if match is None:
            raise errors.ServiceUnavailable(
                f'no service port {int(port)} found for service "{name}"'
            )
        port = str(match.get("name") or "")
    eps = await endpoints.get(namespace, name)
    subsets = eps.get("subsets") or []
    if not subsets:
        raise errors.ServiceUnavailable(f'no endpoints available for service "{name}"')
    seed = rng.randrange(len(subsets))
    for i in range(len(subsets)):
        subset = subsets[(seed + i) % len(subsets)]
        addrs = subset.get("addresses") or []
        if not addrs:
            continue
        for ep_port in subset.get("ports") or []:
            if (ep_port.get("name") or "") != port:
                continue
            start = rng.randrange(len(addrs))
            for j in range(len(addrs)):
                addr = addrs[(start + j) % len(addrs)]
                if not await _valid_address(pods, addr):
                    continue
                return handler.Location(
                    scheme, str(addr["ip"]), int(ep_port["port"]), transport.join("", path)
                )
    raise errors.ServiceUnavailable(f'no endpoints available for service "{id_}"')
