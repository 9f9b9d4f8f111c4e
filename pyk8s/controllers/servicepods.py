"""What the endpoints and endpointslice controllers share: services selecting pods, ports.

Mirrors ``pkg/controller/util/endpoint/controller_utils.go`` (``GetPodServiceMemberships``,
``ShouldPodBeInEndpoints``, ``ShouldSetHostname``) and ``pkg/api/v1/pod/util.go``
``FindPort`` (a named ``targetPort`` resolved against each pod's container ports).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from pyk8s.api import errors, selectors
from pyk8s.client.cache import listers, store
from pyk8s.controllers import ownership, pods

Object = Mapping[str, Any]


def service_selector(svc: Object) -> selectors.LabelSelector | None:
    """The selector of ``svc``; None for services without one (their endpoints are manual)."""
    sel = (svc.get("spec") or {}).get("selector")
    if not sel:
        return None
    return selectors.from_label_selector({"matchLabels": sel})


def services_for_pod(services: listers.Lister, pod: Object) -> list[str]:
    ns = pod["metadata"].get("namespace", "")
    labels = ownership.labels_of(pod)
    out = []
    for svc in services.namespace(ns).list():
        sel = service_selector(svc)
        if sel is not None and sel.matches(labels):
            out.append(f"{ns}/{svc['metadata']['name']}")
    return out


def pod_handlers(
    services: listers.Lister, enqueue: Callable[[str], None]
) -> dict[str, Callable[..., None]]:
    """Informer handlers mapping a pod change to the services selecting it (old or new)."""

    def changed(pod: Object) -> None:
        for key in services_for_pod(services, pod):
            enqueue(key)

    def updated(old: Object, new: Object) -> None:
        if old is new:
            return
        keys = set(services_for_pod(services, new))
        if ownership.labels_of(old) != ownership.labels_of(new):
            keys |= set(services_for_pod(services, old))
        for key in keys:
            enqueue(key)

    return {"add": changed, "update": updated, "delete": changed}


def should_include(pod: Object, include_terminating: bool) -> bool:
    """Has an IP, is not finished, and is not being deleted unless asked for."""
    if not (pod.get("status") or {}).get("podIP"):
        return False
    phase = (pod.get("status") or {}).get("phase")
    if phase in ("Succeeded", "Failed"):
        return False
    return include_terminating or not pod["metadata"].get("deletionTimestamp")


def find_port(pod: Object, port: Mapping[str, Any]) -> int | None:
    target = port.get("targetPort", port.get("port"))
    if isinstance(target, int):
        return target
    if isinstance(target, str) and target.isdigit():
        return int(target)
    protocol = port.get("protocol", "TCP")
    for c in (pod.get("spec") or {}).get("containers") or []:
        for cp in c.get("ports") or []:
            if cp.get("name") == target and cp.get("protocol", "TCP") == protocol:
                return int(cp["containerPort"])
    return None


def endpoint_ports(pod: Object, svc: Object) -> tuple[tuple[str, int, str, str], ...]:
    """(name, port, protocol, appProtocol) of every service port this pod serves."""
    out = []
    for port in (svc.get("spec") or {}).get("ports") or []:
        number = find_port(pod, port)
        if number is None:
            continue
        out.append(
            (port.get("name", ""), number, port.get("protocol", "TCP"), port.get("appProtocol", ""))
        )
    return tuple(out)


def port_dicts(ports: tuple[tuple[str, int, str, str], ...]) -> list[dict[str, Any]]:
    out = []
    for name, number, protocol, app in ports:
        d: dict[str, Any] = {"port": number, "protocol": protocol}
        if name:
            d["name"] = name
        if app:
            d["appProtocol"] = app
        out.append(d)
    return out


def target_ref(pod: Object) -> dict[str, Any]:
    md = pod["metadata"]
    return {
        "kind": "Pod",
        "namespace": md.get("namespace", ""),
        "name": md["name"],
        "uid": md["uid"],
    }


def hostname_for(pod: Object, svc: Object) -> str:
    spec = pod.get("spec") or {}
    if spec.get("hostname") and spec.get("subdomain") == svc["metadata"]["name"]:
        return str(spec["hostname"])
    return ""


def ready(pod: Object) -> bool:
    return pods.is_ready(pod)


def get_service(services: listers.Lister, key: str) -> Object | None:
    ns, name = store.split_key(key)
    try:
        return services.namespace(ns).get(name)
    except errors.NotFound:
        return None
