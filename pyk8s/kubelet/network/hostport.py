"""Host ports: a pod's ``hostPort`` answers on the node's addresses and on localhost.

Plays the part of the CNI ``portmap`` plugin (containernetworking/plugins
``plugins/meta/portmap/portmap.go``): DNAT in the ``nat`` table from the node's port to the
pod's address, for traffic arriving from outside (``PREROUTING``) and made on the node itself
(``OUTPUT``, which is how ``curl localhost:8080`` works, with ``route_localnet``), and
masquerade where the reply would not come back otherwise: connections from localhost and a
pod reaching itself through its own host port (hairpin).

Chains, ``H`` and the cluster's six hex digits (``H1A2B3C``; the service proxy's are
``P1A2B3C``), so clusters side by side keep theirs apart:

- ``<H>-HOSTPORTS``: jumped to from ``PREROUTING`` and ``OUTPUT`` for local destinations;
  one rule per mapping, to the pod's chain;
- ``<H>-HP-<hash>``: per pod sandbox, marks what needs masquerading, then DNATs;
- ``<H>-HOSTPORTS-MASQ``: jumped to from ``POSTROUTING``; masquerades marked packets.

The mappings of every sandbox are kept on disk (``<data-dir>/network/hostports/<id>.json``,
as CNI keeps its results), so a restarted agent renders the same rules again; the whole set
is rendered by a pure function and written with one ``iptables-restore --noflush``.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import logging
import os
import shutil
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from pyk8s.kubelet.runtime import command
from pyk8s.kubelet.runtime.interface import PortMapping

log = logging.getLogger(__name__)

MASQ_BIT = 13  # portmap's 0x2000; kube-proxy's masquerade bit is 14
MASQ_MARK = f"{1 << MASQ_BIT:#x}"
ROUTE_LOCALNET = "/proc/sys/net/ipv4/conf/all/route_localnet"

# (built-in chain, match, our chain suffix)
JUMPS: tuple[tuple[str, str, str], ...] = (
    ("PREROUTING", "-m addrtype --dst-type LOCAL", "HOSTPORTS"),
    ("OUTPUT", "-m addrtype --dst-type LOCAL", "HOSTPORTS"),
    ("POSTROUTING", "", "HOSTPORTS-MASQ"),
)


def chain_prefix(links: str) -> str:
    """``H`` and six upper-case hex digits of the cluster's link prefix (``pk1a2b3c4d``)."""
    tail = links[2:] if links.startswith("pk") else hashlib.sha256(links.encode()).hexdigest()
    return "H" + tail[:6].upper()


@dataclass(frozen=True)
class PodPorts:
    """The host ports of one pod sandbox, as stored on disk."""

    sandbox_id: str
    pod: str  # namespace/name, for the rules' comments
    ip: str
    mappings: tuple[PortMapping, ...]

    def to_json(self) -> str:
        return json.dumps(
            {
                "sandboxID": self.sandbox_id,
                "pod": self.pod,
                "ip": self.ip,
                "mappings": [
                    {
                        "protocol": m.protocol,
                        "containerPort": m.container_port,
                        "hostPort": m.host_port,
                        "hostIP": m.host_ip,
                    }
                    for m in self.mappings
                ],
            }
        )

    @classmethod
    def from_json(cls, text: str) -> PodPorts:
        d = json.loads(text)
        return cls(
            sandbox_id=d["sandboxID"],
            pod=d.get("pod", ""),
            ip=d["ip"],
            mappings=tuple(
                PortMapping(m["protocol"], m["containerPort"], m["hostPort"], m.get("hostIP", ""))
                for m in d["mappings"]
            ),
        )


def pod_chain(prefix: str, sandbox_id: str) -> str:
    digest = hashlib.sha256(sandbox_id.encode()).digest()
    return f"{prefix}-HP-{base64.b32encode(digest).decode()[:16]}"


def _is_ours(chain: str, prefix: str) -> bool:
    return chain in (f"{prefix}-HOSTPORTS", f"{prefix}-HOSTPORTS-MASQ") or (
        chain.startswith(f"{prefix}-HP-") and len(chain) == len(prefix) + 4 + 16
    )


def parse_save(text: str, prefix: str) -> tuple[set[str], list[str]]:
    """Our chains in the ``nat`` table of ``iptables-save`` output, and the ``-A`` lines of
    built-in chains that jump into them."""
    chains: set[str] = set()
    jumps: list[str] = []
    table = ""
    for line in text.splitlines():
        if line.startswith("*"):
            table = line[1:].strip()
        elif table != "nat":
            continue
        elif line.startswith(":"):
            name = line[1:].split(" ", 1)[0]
            if _is_ours(name, prefix):
                chains.add(name)
        elif line.startswith("-A "):
            parts = line.split()
            target = parts[parts.index("-j") + 1] if "-j" in parts else ""
            if _is_ours(target, prefix) and not _is_ours(parts[1], prefix):
                jumps.append(line)
    return chains, jumps


def render(prefix: str, pods: Sequence[PodPorts], existing: set[str], jumps: Sequence[str]) -> str:
    """The ``iptables-restore --noflush`` input for the ``nat`` table that makes the kernel
    hold exactly ``pods``' host ports (pure). ``existing``/``jumps``: what ``parse_save``
    found."""
    hostports, masq = f"{prefix}-HOSTPORTS", f"{prefix}-HOSTPORTS-MASQ"
    rules: dict[str, list[str]] = {hostports: [], masq: []}
    for pp in sorted(pods, key=lambda p: p.sandbox_id):
        chain = pod_chain(prefix, pp.sandbox_id)
        rules[chain] = []
        comment = f'-m comment --comment "{pp.pod or pp.sandbox_id} hostport"'
        for m in pp.mappings:
            proto = m.protocol.lower()
            match = f"-p {proto} -m {proto} --dport {m.host_port}"
            dst = f"-d {m.host_ip}/32 " if m.host_ip and m.host_ip != "0.0.0.0" else ""
            rules[hostports].append(f"-A {hostports} {comment} {dst}{match} -j {chain}")
            for source in (f"{pp.ip}/32", "127.0.0.0/8"):  # hairpin, localhost
                rules[chain].append(
                    f"-A {chain} -s {source} {dst}{match} -j MARK --or-mark {MASQ_MARK}"
                )
            rules[chain].append(
                f"-A {chain} {dst}{match} -j DNAT --to-destination {pp.ip}:{m.container_port}"
            )
    if pods:
        rules[masq].append(
            f'-A {masq} -m comment --comment "hostport hairpin and localhost" '
            f"-m mark --mark {MASQ_MARK}/{MASQ_MARK} -j MASQUERADE"
        )
    out = ["*nat"]
    stale = sorted(existing - set(rules))
    out += [f":{c} - [0:0]" for c in (*rules, *stale)]
    if pods:
        for builtin, match, suffix in JUMPS:
            target = f"{prefix}-{suffix}"
            if not any(j.split()[1] == builtin and j.endswith(f"-j {target}") for j in jumps):
                comment = f'-m comment --comment "{prefix} {suffix.lower()}"'
                out.append(" ".join(x for x in ("-I", builtin, match, comment, "-j", target) if x))
    else:
        out += ["-D" + j[2:] for j in jumps]
    for lines in rules.values():
        out += lines
    out += [f"-X {c}" for c in stale]
    if not pods:
        out += [f"-X {c}" for c in rules]
    out.append("COMMIT")
    return "\n".join(out) + "\n"


class HostPorts:
    """The host ports of one node's pods, applied in its network namespace (``netns``)."""

    def __init__(self, links: str, data_dir: Path, netns: str | None = None) -> None:
        self.prefix = chain_prefix(links)
        self.directory = state_dir(data_dir)
        self.netns = netns
        self._lock = asyncio.Lock()

    async def _run(self, *argv: str, input: str | None = None, check: bool = True) -> str:
        full = ["ip", "netns", "exec", self.netns, *argv] if self.netns else list(argv)
        return await command.run(*full, input=input.encode() if input else None, check=check)

    async def add(self, pod: PodPorts) -> None:
        """Publish ``pod``'s mappings (replacing what its sandbox had)."""
        if not pod.mappings:
            return
        await asyncio.to_thread(_write, self.directory, pod)
        await self._run("sh", "-c", f"echo 1 > {ROUTE_LOCALNET}")
        await self.sync()
        if any(m.protocol == "UDP" for m in pod.mappings):
            await self._forget_udp_flows(m.host_port for m in pod.mappings if m.protocol == "UDP")

    async def remove(self, sandbox_id: str) -> None:
        """Withdraw the sandbox's mappings; nothing to do when it had none."""
        if await asyncio.to_thread(_delete, self.directory, sandbox_id):
            await self.sync()

    async def sync(self) -> None:
        async with self._lock:
            pods = await asyncio.to_thread(load_all, self.directory)
            existing, jumps = parse_save(await self._run("iptables-save", "-t", "nat"), self.prefix)
            if not pods and not existing and not jumps:
                return
            await self._run(
                "iptables-restore", "--noflush", input=render(self.prefix, pods, existing, jumps)
            )

    async def _forget_udp_flows(self, ports: Iterable[int]) -> None:
        # A datagram sent before the rule existed left a flow to the node itself; portmap
        # deletes such flows, or the port keeps answering from nowhere until they expire.
        if await asyncio.to_thread(shutil.which, "conntrack") is None:
            return
        for port in ports:
            argv = ("conntrack", "-D", "-p", "udp", "--orig-port-dst", str(port))
            await self._run(*argv, check=False)


def state_dir(data_dir: Path) -> Path:
    return data_dir / "network" / "hostports"


def _write(directory: Path, pod: PodPorts) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    tmp = directory / f".{pod.sandbox_id}.tmp"
    tmp.write_text(pod.to_json())
    os.replace(tmp, directory / f"{pod.sandbox_id}.json")


def _delete(directory: Path, sandbox_id: str) -> bool:
    try:
        (directory / f"{sandbox_id}.json").unlink()
    except FileNotFoundError:
        return False
    return True


def load_all(directory: Path) -> list[PodPorts]:
    """Every stored sandbox's host ports (blocking); unreadable files are skipped."""
    out = []
    if directory.is_dir():
        for path in sorted(directory.glob("*.json")):
            with contextlib.suppress(OSError, ValueError, KeyError):
                out.append(PodPorts.from_json(path.read_text()))
    return out


async def cleanup(links: str, data_dir: Path | None, netns: str | None = None) -> bool:
    """Remove the cluster's host-port chains (``pyk8s killall``) and, with ``data_dir``, its
    stored mappings; False when there were no chains."""
    prefix = chain_prefix(links)
    base = ["ip", "netns", "exec", netns] if netns else []
    saved = await command.run(*base, "iptables-save", "-t", "nat", check=False)
    existing, jumps = parse_save(saved, prefix)
    if data_dir is not None:
        await asyncio.to_thread(shutil.rmtree, state_dir(data_dir), True)
    if not existing and not jumps:
        return False
    text = render(prefix, [], existing, jumps)
    await command.run(*base, "iptables-restore", "--noflush", input=text.encode())
    return True


def leftover_chains(links: str, saved: str) -> list[str]:
    """Chains of the cluster still in ``iptables-save`` output (for ``killall``'s report)."""
    return sorted(parse_save(saved, chain_prefix(links))[0])
