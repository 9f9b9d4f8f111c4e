"""``nodes/proxy``: requests relayed to a node's kubelet (``/api/v1/nodes/<node>/proxy/...``).

Mirrors ``pkg/registry/core/node/rest/proxy.go`` (``ProxyREST.Connect``: the location's path
joined with the ``path`` option) and ``pkg/registry/core/node/strategy.go``
(``ResourceLocation``: the id is ``node``, ``node:port`` or ``scheme:node:port``; without a
port, or with the kubelet's own, the request goes over HTTPS to the kubelet's port from
``status.daemonEndpoints`` with the API server's kubelet client certificate; another port is
reached with the given scheme and the plain proxy transport).
"""

from __future__ import annotations

import ssl

from pyk8s.api import errors
from pyk8s.apiserver.proxy import address, handler, transport
from pyk8s.apiserver.registry.core.pod import log as pod_log
from pyk8s.apiserver.registry.generic import store as generic


async def location(
    nodes: generic.Store,
    id_: str,
    path: str,
    kubelet_ssl: ssl.SSLContext,
    proxy_ssl: ssl.SSLContext,
) -> tuple[handler.Location, ssl.SSLContext]:
    split = handler.split_scheme_name_port(id_)
    if split is None:
        raise errors.BadRequest(f'invalid node request "{id_}"')
    scheme, name, port = split
    host, kubelet_port = pod_log.kubelet_location(await nodes.get("", name))
    address.check_node(host)
    path = transport.join("", path)
    if port in ("", str(kubelet_port)):
        return handler.Location("https", host, kubelet_port, path), kubelet_ssl
    number = address.port_number(port, "node")
    return handler.Location(scheme, host, number, path), proxy_ssl
