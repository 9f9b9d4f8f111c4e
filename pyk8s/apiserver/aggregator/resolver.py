"""Where an APIService's Service answers: a ready endpoint of its EndpointSlices.

Mirrors kube-aggregator's endpoint routing (``pkg/apiserver/resolvers.go``
``NewEndpointServiceResolver``, ``ResolveEndpoint`` in ``k8s.io/apiserver/pkg/util/proxy``):
the Service's port whose ``port`` is ``spec.service.port`` names the EndpointSlice port to use,
and the first ready endpoint address is the host. Routing to endpoints rather than to the
ClusterIP keeps the API server independent of the service proxy on its own host (upstream's
``--enable-aggregator-routing``; k3s turns it on). The failures carry the reasons and
messages of ``remote_available_controller.go``.
"""

from __future__ import annotations

from typing import Any

from pyk8s.api import errors, selectors
from pyk8s.apiserver.aggregator.apiservice import ServiceRef
from pyk8s.apiserver.registry.generic.store import ListOptions
from pyk8s.apiserver.registry.rest import REST

SERVICE_NAME_LABEL = "kubernetes.io/service-name"


class ResolveError(Exception):
    """The Service cannot be reached; ``reason`` is the Available condition's reason."""

    def __init__(self, reason: str, message: str, status: str = "False") -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.status = status


async def resolve(rests: dict[tuple[str, str, str], REST], ref: ServiceRef) -> tuple[str, int]:
    """``(host, port)`` of a ready endpoint of ``ref``'s Service."""
    where = f"service/{ref.name} in {_quote(ref.namespace)}"
    try:
        svc = await rests[("", "v1", "services")].store.get(ref.namespace, ref.name)
    except errors.NotFound:
        raise ResolveError("ServiceNotFound", f"{where} is not present") from None
    except errors.ApiError as e:
        raise ResolveError(
            "ServiceAccessError", f"{where} cannot be checked due to: {e}", "Unknown"
        ) from None
    spec = svc.get("spec") or {}
    if spec.get("type") == "ExternalName":
        return str(spec.get("externalName")), ref.port
    port_name = None
    for p in spec.get("ports") or []:
        if p.get("port") == ref.port:
            port_name = p.get("name") or ""
            break
    if port_name is None:
        raise ResolveError("ServicePortError", f"{where} is not listening on port {ref.port}")
    opts = ListOptions(label_selector=selectors.parse_labels(f"{SERVICE_NAME_LABEL}={ref.name}"))
    slices = await rests[("discovery.k8s.io", "v1", "endpointslices")].store.list(
        ref.namespace, opts
    )
    items: list[dict[str, Any]] = slices.get("items") or []
    if not items:
        raise ResolveError("EndpointsNotFound", f"cannot find endpointslices for {where}")
    for s in items:
        port = next(
            (p.get("port") for p in s.get("ports") or [] if (p.get("name") or "") == port_name),
            None,
        )
        if port is None:
            continue
        for ep in s.get("endpoints") or []:
            ready = (ep.get("conditions") or {}).get("ready")
            if (ready is None or ready) and ep.get("addresses"):
                return str(ep["addresses"][0]), int(port)
    raise ResolveError(
        "MissingEndpoints",
        f"endpointslices for {where} have no addresses with port name {_quote(port_name)}",
    )


def _quote(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'
