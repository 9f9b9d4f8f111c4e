"""The host-port rules, rendered without touching the kernel."""

from __future__ import annotations

from pathlib import Path

from pyk8s.kubelet.network import hostport
from pyk8s.kubelet.network.hostport import PodPorts
from pyk8s.kubelet.runtime.interface import PortMapping

PREFIX = hostport.chain_prefix("pk1a2b3c4d")
WEB = PodPorts(
    "pyk8s-1a2b3c4d-00aa",
    "default/web",
    "10.42.0.5",
    (PortMapping("TCP", 80, 8080), PortMapping("UDP", 53, 5353, "192.168.1.2")),
)


def test_prefix_follows_the_cluster() -> None:
    assert PREFIX == "H1A2B3C"
    assert hostport.chain_prefix("pk0000ffff") != PREFIX


def test_render_dnats_marks_and_jumps_once() -> None:
    text = hostport.render(PREFIX, [WEB], set(), [])
    chain = hostport.pod_chain(PREFIX, WEB.sandbox_id)
    assert len(chain) <= 28
    lines = text.splitlines()
    assert lines[0] == "*nat" and lines[-1] == "COMMIT"
    assert f":{PREFIX}-HOSTPORTS - [0:0]" in lines
    assert f":{chain} - [0:0]" in lines
    assert (
        f'-A {PREFIX}-HOSTPORTS -m comment --comment "default/web hostport" '
        f"-p tcp -m tcp --dport 8080 -j {chain}"
    ) in lines
    assert f"-A {chain} -p tcp -m tcp --dport 8080 -j DNAT --to-destination 10.42.0.5:80" in lines
    assert (
        f"-A {chain} -d 192.168.1.2/32 -p udp -m udp --dport 5353 "
        "-j DNAT --to-destination 10.42.0.5:53"
    ) in lines
    assert f"-A {chain} -s 127.0.0.0/8 -p tcp -m tcp --dport 8080 -j MARK --or-mark 0x2000" in lines
    hairpin = f"-A {chain} -s 10.42.0.5/32 -p tcp -m tcp --dport 8080 -j MARK --or-mark 0x2000"
    assert hairpin in lines
    jumps = [line for line in lines if line.startswith("-I ")]
    assert [j.split()[1] for j in jumps] == ["PREROUTING", "OUTPUT", "POSTROUTING"]
    # Jumps the kernel already has are not written again.
    saved = "*nat\n" + "\n".join("-A" + j[2:] for j in jumps) + "\nCOMMIT\n"
    existing, found = hostport.parse_save(saved, PREFIX)
    again = hostport.render(PREFIX, [WEB], existing, found)
    assert not [line for line in again.splitlines() if line.startswith("-I ")]


def test_render_removes_stale_chains_and_everything_when_empty() -> None:
    old = hostport.pod_chain(PREFIX, "gone")
    saved = (
        "*nat\n"
        f":{PREFIX}-HOSTPORTS - [0:0]\n:{old} - [0:0]\n:P1A2B3C-SERVICES - [0:0]\n"
        f"-A PREROUTING -m addrtype --dst-type LOCAL -j {PREFIX}-HOSTPORTS\n"
        "-A PREROUTING -j P1A2B3C-SERVICES\nCOMMIT\n"
    )
    existing, jumps = hostport.parse_save(saved, PREFIX)
    assert existing == {f"{PREFIX}-HOSTPORTS", old}
    assert jumps == [f"-A PREROUTING -m addrtype --dst-type LOCAL -j {PREFIX}-HOSTPORTS"]
    text = hostport.render(PREFIX, [WEB], existing, jumps)
    assert f"-X {old}" in text.splitlines()
    empty = hostport.render(PREFIX, [], existing, jumps).splitlines()
    assert f"-D PREROUTING -m addrtype --dst-type LOCAL -j {PREFIX}-HOSTPORTS" in empty
    assert f"-X {PREFIX}-HOSTPORTS" in empty and f"-X {old}" in empty
    assert not any("P1A2B3C" in line for line in empty)  # the proxy's chains are not ours


def test_mappings_survive_on_disk(tmp_path: Path) -> None:
    hostport._write(tmp_path, WEB)
    assert hostport.load_all(tmp_path) == [WEB]
    assert hostport._delete(tmp_path, WEB.sandbox_id)
    assert not hostport._delete(tmp_path, WEB.sandbox_id)
    assert hostport.load_all(tmp_path) == []
