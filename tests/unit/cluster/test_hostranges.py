"""Two clusters on one machine: overlapping ranges are refused, with what to change."""

from __future__ import annotations

from pathlib import Path

import pytest

from pyk8s.cluster import hostranges
from pyk8s.cluster.hostranges import Claim
from pyk8s.kubelet.network import bridge

A = Claim("pyk8s-aaaaaaaa", "/srv/a", "10.42.0.0/16", "10.43.0.0/16", (30000, 32767), pid=10)


def test_defaults_clash_on_every_range() -> None:
    b = Claim("pyk8s-bbbbbbbb", "/srv/b", "10.42.0.0/16", "10.43.0.0/16", (30000, 32767))
    problems = hostranges.clashes(b, [A], [])
    assert len(problems) == 3
    assert problems[0].startswith("--cluster-cidr 10.42.0.0/16 overlaps 10.42.0.0/16 of the "
                                  "cluster with --data-dir /srv/a (pid 10)")  # fmt: skip
    assert "--service-cidr" in problems[1] and "--service-node-port-range" in problems[2]


def test_separate_ranges_live_side_by_side() -> None:
    b = Claim("pyk8s-bbbbbbbb", "/srv/b", "10.52.0.0/16", "10.53.0.0/16", (33000, 33999))
    ours = bridge.link_prefix(b.prefix) + "br"
    routes = [("eth0", "0.0.0.0/0"), ("eth0", "10.0.0.0/8"), (ours, "10.52.0.0/24")]
    assert hostranges.clashes(b, [A], routes) == []


def test_same_data_dir_and_foreign_routes() -> None:
    again = Claim(A.prefix, "/srv/a", "10.99.0.0/16", "10.98.0.0/16", (1, 2))
    assert "already runs a server on this data directory" in hostranges.clashes(again, [A], [])[0]
    b = Claim("pyk8s-bbbbbbbb", "/srv/b", "10.52.0.0/16", "10.53.0.0/16", (33000, 33999))
    (problem,) = hostranges.clashes(b, [], [("pk12345678br", "10.52.3.0/24")])
    assert "10.52.3.0/24, already routed through pk12345678br" in problem


def test_acquire_records_and_refuses(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hostranges, "claims_dir", lambda: tmp_path)
    monkeypatch.setattr(hostranges, "host_routes", lambda: [])
    path = hostranges.acquire(A)
    assert path.exists()
    # The claim of a process that is gone is not in the way.
    (tmp_path / "pyk8s-cccccccc.json").write_text(
        '{"prefix": "pyk8s-cccccccc", "data_dir": "/srv/c", "cluster_cidr": "10.42.0.0/16", '
        '"service_cidr": "10.43.0.0/16", "node_ports": [30000, 32767], "pid": 999999999}'
    )
    monkeypatch.setattr(hostranges, "_alive", lambda pid: pid != 999999999)
    monkeypatch.setattr(hostranges.os, "getpid", lambda: 4242)  # another server now
    b = Claim("pyk8s-bbbbbbbb", "/srv/b", "10.42.0.0/16", "10.63.0.0/16", (34000, 34999))
    with pytest.raises(hostranges.ClashError, match=r"--cluster-cidr 10\.42\.0\.0/16 overlaps"):
        hostranges.acquire(b)
    hostranges.release(path)  # not this pid's claim: stays
    assert path.exists()
    # killall forgets the claim of a server that is gone, never a running one's
    assert not hostranges.forget(A.prefix) and path.exists()  # pid 10 is "alive" here
    assert hostranges.forget("pyk8s-cccccccc")
    assert not (tmp_path / "pyk8s-cccccccc.json").exists()
    assert not hostranges.forget("pyk8s-cccccccc")


def test_host_routes_reads_the_kernel_table(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    table = tmp_path / "route"
    table.write_text(
        "Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\tMTU\tWindow\tIRTT\n"
        "eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n"
        "pk7508bea3br\t00002A0A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n"
    )
    monkeypatch.setattr(hostranges, "ROUTE_TABLE", table)
    assert hostranges.host_routes() == [("eth0", "0.0.0.0/0"), ("pk7508bea3br", "10.42.0.0/24")]
