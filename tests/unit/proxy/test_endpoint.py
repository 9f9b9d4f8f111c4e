"""Reading endpoints from EndpointSlices and choosing which to use (pyk8s/proxy/endpoint.py)."""

from __future__ import annotations

import pytest

from pyk8s.proxy import endpoint
from pyk8s.proxy.endpoint import Endpoint
from pyk8s.proxy.serviceport import ServicePort

READY = Endpoint("10.42.0.1", 80)
READY_LOCAL = Endpoint("10.42.0.2", 80, local=True)
TERMINATING = Endpoint("10.42.0.3", 80, ready=False, serving=True, terminating=True)
TERMINATING_LOCAL = Endpoint(
    "10.42.0.4", 80, ready=False, serving=True, terminating=True, local=True
)
GONE = Endpoint("10.42.0.5", 80, ready=False, serving=False, terminating=True)
UNREADY = Endpoint("10.42.0.6", 80, ready=False, serving=False)

CLUSTER = ServicePort("ns", "s", "", "TCP", 80, "10.43.0.1")
ITP_LOCAL = ServicePort("ns", "s", "", "TCP", 80, "10.43.0.1", internal_policy_local=True)
ETP_LOCAL = ServicePort(
    "ns", "s", "", "TCP", 80, "10.43.0.1", node_port=30000, external_policy_local=True
)


@pytest.mark.parametrize(
    ("svc", "eps", "cluster", "local", "has_any"),
    [
        pytest.param(CLUSTER, [READY, TERMINATING, UNREADY], [READY], [], True, id="ready-only"),
        pytest.param(
            CLUSTER, [TERMINATING, GONE], [TERMINATING], [], True, id="terminating-fallback"
        ),
        pytest.param(CLUSTER, [GONE, UNREADY], [], [], False, id="none-usable"),
        pytest.param(CLUSTER, [], [], [], False, id="empty"),
        pytest.param(ITP_LOCAL, [READY, READY_LOCAL], [], [READY_LOCAL], True, id="itp-local"),
        pytest.param(ITP_LOCAL, [READY], [], [], True, id="itp-no-local-but-some"),
        pytest.param(
            ITP_LOCAL,
            [READY, TERMINATING_LOCAL],
            [],
            [TERMINATING_LOCAL],
            True,
            id="itp-local-terminating-fallback",
        ),
        pytest.param(
            ETP_LOCAL,
            [READY, READY_LOCAL],
            [READY, READY_LOCAL],
            [READY_LOCAL],
            True,
            id="etp-local-needs-both",
        ),
    ],
)
def test_categorize(
    svc: ServicePort,
    eps: list[Endpoint],
    cluster: list[Endpoint],
    local: list[Endpoint],
    has_any: bool,
) -> None:
    got = endpoint.categorize(eps, svc)
    assert list(got.cluster) == cluster
    assert list(got.local) == local
    assert got.has_any is has_any
    assert set(got.all_reachable) == set(cluster) | set(local)


def test_slices_grouped_by_port_and_deduplicated() -> None:
    def es(name: str, ips: list[str], **cond: bool) -> dict[str, object]:
        return {
            "metadata": {
                "name": name,
                "namespace": "ns",
                "labels": {"kubernetes.io/service-name": "s"},
            },
            "addressType": "IPv4",
            "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
            "endpoints": [
                {"addresses": [ip], "nodeName": "me", "conditions": dict(cond)} for ip in ips
            ],
        }

    got = endpoint.endpoints_by_port(
        [
            es("b", ["10.42.0.9", "10.42.0.10"], ready=False),
            es("a", ["10.42.0.10", "not-an-ip"]),
            {"metadata": {"name": "unlabelled", "namespace": "ns"}, "endpoints": []},
        ],
        node_name="me",
    )
    assert list(got) == [("ns", "s", "http", "TCP")]
    eps = got[("ns", "s", "http", "TCP")]
    assert [str(e) for e in eps] == ["10.42.0.9:8080", "10.42.0.10:8080"]
    assert [e.ready for e in eps] == [False, True]  # slice "a" sorts first and wins
    assert all(e.local for e in eps)
