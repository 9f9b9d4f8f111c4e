"""nslookup from a busybox pod, through the pod's resolv.conf and the kube-dns ClusterIP, for
each kind of record the Kubernetes DNS specification defines.

Busybox >= 1.29's nslookup applies the search list only to names without a dot (it has no
``ndots``), on a real cluster as here, so dotted names are asked fully qualified; glibc's
resolver with the search list (``web.default``, ``kubernetes.default``) is in
``test_network.py``.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.e2e.cluster.conftest import NetCluster, pod_phase, run_to_completion
from tests.e2e.scheduler.conftest import wait_for

pytestmark = pytest.mark.e2e

NS = "dnstest"


def _objects() -> list[dict[str, Any]]:
    return [
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "web", "namespace": NS},
            "spec": {"selector": {"app": "nothing"}, "ports": [{"name": "http", "port": 80}]},
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "db", "namespace": NS},
            "spec": {
                "clusterIP": "None",
                "selector": {"app": "db"},
                "ports": [{"name": "pg", "port": 5432}],
            },
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "out", "namespace": NS},
            "spec": {"type": "ExternalName", "externalName": "www.example.com"},
        },
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "db-0", "namespace": NS, "labels": {"app": "db"}},
            "spec": {
                "hostname": "db-0",
                "subdomain": "db",
                "terminationGracePeriodSeconds": 1,
                "containers": [{"name": "db", "image": "busybox", "command": ["sleep", "3600"]}],
            },
        },
    ]


def _lookups(web_ip: str, db_ip: str) -> dict[str, tuple[str, str]]:
    """id -> (nslookup arguments, what the answer must hold)."""
    ptr = ".".join(reversed(web_ip.split("."))) + ".in-addr.arpa"
    dashed = db_ip.replace(".", "-")
    return {
        "short": ("web", f"Address: {web_ip}"),
        "fqdn": ("web.dnstest.svc.cluster.local", f"Address: {web_ip}"),
        "srv": (
            "-type=SRV _http._tcp.web.dnstest.svc.cluster.local",
            "service = 0 100 80 web.dnstest.svc.cluster.local",
        ),
        "headless": ("db.dnstest.svc.cluster.local", f"Address: {db_ip}"),
        "hostname": ("db-0.db.dnstest.svc.cluster.local", f"Address: {db_ip}"),
        "pod": (f"{dashed}.dnstest.pod.cluster.local", f"Address: {db_ip}"),
        "ptr": (f"-type=PTR {ptr}", "name = web.dnstest.svc.cluster.local"),
        "externalname": (
            "-type=CNAME out.dnstest.svc.cluster.local",
            "canonical name = www.example.com",
        ),
        "kubernetes": ("kubernetes.default.svc.cluster.local", "Address: "),
        "nxdomain": ("nope.dnstest.svc.cluster.local", "NXDOMAIN"),
    }


def test_busybox_nslookup_for_each_record_kind(cluster: NetCluster) -> None:
    cluster.kubectl("create", "namespace", NS)
    cluster.kubectl("apply", "-f", "-", input=json.dumps({"kind": "List", "apiVersion": "v1",
                                                           "items": _objects()}))  # fmt: skip
    wait_for("db-0 running", lambda: pod_phase(cluster, "db-0", "Running", ns=NS), timeout=90)

    def headless_ready() -> str | None:
        eps = json.loads(cluster.kubectl("get", "endpoints", "db", "-n", NS, "-o", "json").stdout)
        addresses = [a for s in eps.get("subsets") or [] for a in s.get("addresses") or []]
        return addresses[0]["ip"] if addresses else None

    db_ip = wait_for("db-0 behind the headless Service", headless_ready, timeout=30)
    web = json.loads(cluster.kubectl("get", "svc", "web", "-n", NS, "-o", "json").stdout)
    lookups = _lookups(web["spec"]["clusterIP"], db_ip)
    script = "; ".join(f"echo '== {k}'; nslookup {args} 2>&1" for k, (args, _) in lookups.items())
    out = run_to_completion(cluster, "nslookup", "busybox", script + "; true", timeout=120, ns=NS)
    sections: dict[str, str] = {}
    key = ""
    for line in out:
        if line.startswith("== "):
            key = line[3:]
            sections[key] = ""
        elif key:
            sections[key] += line + "\n"
    for k, (args, want) in lookups.items():
        assert want in sections.get(k, ""), f"nslookup {args}:\n{sections.get(k)}"
    assert "NXDOMAIN" not in sections["fqdn"]
