"""The host-wide ranges a cluster's node agent claims, checked before it touches the host.

Several clusters on one machine (as the tests run them) keep their links, chains and files
apart by prefix, but some things are the machine's, not a cluster's: pod addresses (each
node's bridge holds a /24 of the pod CIDR, and the kernel routes by address), Service
addresses (the rules DNAT by destination, and the first cluster's rule wins) and NodePorts
(the same). Two clusters on one range do not fail; they steal each other's packets. So a
server with a node agent claims its pod CIDR, service CIDR and NodePort range in
``/run/pyk8s/claims/<prefix>.json`` (with its pid) and refuses to start, naming the other
cluster and the flag to change, when a running cluster holds an overlapping one or a route
of another link already covers part of the pod CIDR. k3s has no such check (one k3s per
machine); kube-proxy's ``--cluster-cidr`` has none either.

Sharing the masquerade mark bits (``0x4000`` for the service proxy, ``0x2000`` for host ports)
between clusters is safe: a marked packet means "masquerade this" in every cluster's
``POSTROUTING`` chain, whichever sees it first does exactly that, and no chain of ours acts
on another meaning of the bit.
"""

from __future__ import annotations

import contextlib
import fcntl
import ipaddress
import json
import logging
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from pyk8s.kubelet.runtime import naming

log = logging.getLogger(__name__)

ROUTE_TABLE = Path("/proc/net/route")


class ClashError(RuntimeError):
    """Another running cluster, or another link's route, holds part of this cluster's ranges."""


@dataclass(frozen=True)
class Claim:
    prefix: str
    data_dir: str
    cluster_cidr: str
    service_cidr: str
    node_ports: tuple[int, int]
    pid: int = 0


def claims_dir() -> Path:
    return naming.RUN_ROOT / "claims"


def _overlap(a: str, b: str) -> bool:
    na, nb = ipaddress.ip_network(a, strict=False), ipaddress.ip_network(b, strict=False)
    return na.version == nb.version and na.overlaps(nb)


def clashes(claim: Claim, others: list[Claim], routes: list[tuple[str, str]]) -> list[str]:
    """What of ``claim`` another cluster or route already holds, as sentences (pure)."""
    out = []
    for o in others:
        who = f"the cluster with --data-dir {o.data_dir} (pid {o.pid})"
        if o.prefix == claim.prefix:
            out.append(f"{who} already runs a server on this data directory")
            continue
        if _overlap(claim.cluster_cidr, o.cluster_cidr):
            out.append(
                f"--cluster-cidr {claim.cluster_cidr} overlaps {o.cluster_cidr} of {who}; "
                "give this cluster another --cluster-cidr"
            )
        if _overlap(claim.service_cidr, o.service_cidr):
            out.append(
                f"--service-cidr {claim.service_cidr} overlaps {o.service_cidr} of {who}; "
                "give this cluster another --service-cidr (and --cluster-dns)"
            )
        lo, hi = claim.node_ports
        olo, ohi = o.node_ports
        if lo <= ohi and olo <= hi:
            out.append(
                f"--service-node-port-range {lo}-{hi} overlaps {olo}-{ohi} of {who}; "
                "give this cluster another --service-node-port-range"
            )
    from pyk8s.kubelet.network import bridge  # the node agent's modules: not for a bare server

    ours = bridge.link_prefix(claim.prefix)
    cidr = ipaddress.ip_network(claim.cluster_cidr, strict=False)
    for dev, dest in routes:
        net = ipaddress.ip_network(dest, strict=False)
        # A broader route (a LAN's 10.0.0.0/8) loses to our more specific ones; a route
        # inside the range takes addresses our bridges need.
        if dev.startswith(ours) or net.prefixlen == 0 or net.version != cidr.version:
            continue
        if net.subnet_of(cidr):  # type: ignore[arg-type]
            out.append(
                f"--cluster-cidr {claim.cluster_cidr} holds {dest}, already routed through "
                f"{dev} (another cluster's bridge, or a network of this machine; "
                "`pyk8s killall` removes a stopped cluster's)"
            )
    return out


def host_routes() -> list[tuple[str, str]]:
    """(device, destination CIDR) of the host's IPv4 routes (blocking)."""
    out: list[tuple[str, str]] = []
    try:
        lines = ROUTE_TABLE.read_text().splitlines()[1:]
    except OSError:
        return out
    for line in lines:
        f = line.split()
        if len(f) < 8:
            continue
        dest = ipaddress.IPv4Address(int(f[1], 16).to_bytes(4, "little"))
        mask = bin(int(f[7], 16)).count("1")
        out.append((f[0], f"{dest}/{mask}"))
    return out


def _alive(pid: int) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return b"pyk8s" in cmdline


def _running(directory: Path) -> list[Claim]:
    out = []
    for path in sorted(directory.glob("*.json")):
        with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
            d = json.loads(path.read_text())
            d["node_ports"] = tuple(d["node_ports"])
            c = Claim(**d)
            if c.pid != os.getpid() and _alive(c.pid):
                out.append(c)
    return out


@contextlib.contextmanager
def _locked(directory: Path) -> Iterator[None]:
    directory.mkdir(parents=True, exist_ok=True)
    fd = os.open(directory / ".lock", os.O_CREAT | os.O_RDWR, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def acquire(claim: Claim) -> Path:
    """Record ``claim`` for this process, or raise :class:`ClashError` (blocking)."""
    directory = claims_dir()
    claim = Claim(**{**asdict(claim), "pid": os.getpid()})
    with _locked(directory):
        problems = clashes(claim, _running(directory), host_routes())
        if problems:
            raise ClashError(
                "this cluster's ranges clash with what is running here:\n  - "
                + "\n  - ".join(problems)
            )
        path = directory / f"{claim.prefix}.json"
        path.write_text(json.dumps(asdict(claim)))
    return path


def release(path: Path) -> None:
    with contextlib.suppress(OSError):
        d = json.loads(path.read_text())
        if d.get("pid") == os.getpid():
            path.unlink()


def forget(prefix: str) -> bool:
    """Remove the claim of ``prefix`` if its process is gone (a killed server leaves it
    behind; ``pyk8s killall`` clears it). True when one was removed."""
    directory = claims_dir()
    path = directory / f"{prefix}.json"
    if not path.exists():
        return False
    with _locked(directory):
        try:
            pid = json.loads(path.read_text()).get("pid")
        except (OSError, ValueError):
            pid = None
        if isinstance(pid, int) and _alive(pid):
            return False
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
    return True
