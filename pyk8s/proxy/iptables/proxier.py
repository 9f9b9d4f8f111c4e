"""Applies the rendered rule set to the kernel with one ``iptables-restore --noflush``.

Mirrors ``pkg/proxy/iptables/proxier.go`` (``syncProxyRules``: read ``iptables-save``, render,
``RestoreAll(..., NoFlushTables, ...)``, partial syncs that rewrite only changed chains;
``CleanupLeftovers``) and ``pkg/proxy/conntrack/cleanup.go`` (UDP flows to endpoints that are
gone are deleted, or they would keep going there). All commands run as asyncio subprocesses;
with ``netns`` set they run inside that network namespace (``ip netns exec``), which is how
tests and several nodes on one machine keep their rules apart from the host's.
"""

from __future__ import annotations

import asyncio
import logging
import re
import shutil
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pyk8s.proxy.config import ProxyConfig
from pyk8s.proxy.iptables import rules

log = logging.getLogger(__name__)

ROUTE_LOCALNET = "/proc/sys/net/ipv4/conf/all/route_localnet"
BRIDGE_CALL_IPTABLES = "/proc/sys/net/bridge/bridge-nf-call-iptables"


class IptablesError(RuntimeError):
    """An iptables command failed; the message carries its error and the offending input line."""


async def run_command(
    argv: Sequence[str], stdin: str | None = None, netns: str | None = None
) -> str:
    """Run ``argv`` (inside ``netns`` if given) and return its output, or raise IptablesError."""
    full = ["ip", "netns", "exec", netns, *argv] if netns else list(argv)
    try:
        proc = await asyncio.create_subprocess_exec(
            *full,
            stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
    except FileNotFoundError as e:
        raise IptablesError(f"{full[0]}: not found ({e})") from e
    out, err = await proc.communicate(stdin.encode() if stdin is not None else None)
    if proc.returncode != 0:
        message = err.decode(errors="replace").strip()
        detail = _failed_line(message, stdin)
        raise IptablesError(
            f"{' '.join(full[:6])} exited with {proc.returncode}: {message}{detail}"
        )
    return out.decode()


def _failed_line(message: str, stdin: str | None) -> str:
    """iptables-restore says ``line N failed``; quote that line of our input."""
    if stdin is None:
        return ""
    m = re.search(r"line:?\s*(\d+)", message)
    lines = stdin.splitlines()
    if m and 0 < int(m.group(1)) <= len(lines):
        return f" (line {m.group(1)}: {lines[int(m.group(1)) - 1]})"
    return ""


class Proxier:
    """The iptables proxier of one node: ``sync`` makes the kernel match the given objects."""

    def __init__(self, config: ProxyConfig, *, netns: str | None = None) -> None:
        self.config = config
        self.netns = netns
        self._lock = asyncio.Lock()
        self.last_rules = ""
        # What the last successful restore left in the kernel; None: read it (iptables-save).
        self._written: tuple[rules.RuleSet, rules.Current] | None = None
        self._last_full = float("-inf")
        self.full_syncs = 0
        self._applied: rules.RuleSet | None = None  # the last rule set in the kernel
        self._conntrack_missing = False

    async def setup(self) -> None:
        """Kernel settings the rules rely on (kube-proxy's ``NewProxier``)."""
        if self.config.localhost_node_ports:
            await self._sysctl(ROUTE_LOCALNET, "1")
        try:
            await self._sysctl(BRIDGE_CALL_IPTABLES, "1")
        except IptablesError as e:  # no br_netfilter: pods on one bridge bypass iptables
            log.warning("cannot enable bridge-nf-call-iptables: %s", e)

    async def _sysctl(self, path: str, value: str) -> None:
        # A subprocess, not a file write: /proc/sys/net belongs to the writer's namespace.
        await run_command(["sh", "-c", f"echo {value} > {path}"], netns=self.netns)

    async def sync(
        self,
        services: Iterable[Mapping[str, Any]],
        endpoint_slices: Iterable[Mapping[str, Any]],
    ) -> str:
        """Render the whole rule set and apply it with one ``iptables-restore``; returns the input.

        A full sync (read the kernel's state with ``iptables-save``, write every chain) runs
        first, after a failure and every ``sync_period``; in between only the chains whose
        rules changed since the last sync are written.
        """
        async with self._lock:
            loop = asyncio.get_running_loop()
            wanted = rules.render(services, endpoint_slices, self.config)
            full = self._written is None or loop.time() - self._last_full >= self.config.sync_period
            if full or self._written is None:
                saved = await run_command(["iptables-save"], netns=self.netns)
                current = rules.parse_save(saved, self.config.chain_prefix)
                previous = None
            else:
                previous, current = self._written
            text = rules.restore_input(wanted, self.config, current, previous)
            self._written = None  # unknown until the restore succeeds
            await run_command(["iptables-restore", "--noflush"], stdin=text, netns=self.netns)
            self._written = (wanted, rules.written(wanted, self.config))
            if self._applied is not None:
                await self._delete_stale_flows(rules.stale_udp_flows(self._applied, wanted))
            self._applied = wanted
            if full:
                self._last_full = loop.time()
                self.full_syncs += 1
            self.last_rules = text
            return text

    async def _delete_stale_flows(self, stale: list[tuple[tuple[str, int], str | None]]) -> None:
        if not stale or self._conntrack_missing:
            return
        if await asyncio.to_thread(shutil.which, "conntrack") is None:
            log.warning("conntrack is not installed: stale UDP flows stay until they expire")
            self._conntrack_missing = True
            return
        for (ip, port), endpoint in stale:
            argv = ["conntrack", "-D", "-p", "udp", "--orig-port-dst", str(port)]
            if ip:
                argv += ["--orig-dst", ip]
            if endpoint is not None:
                argv += ["--dst-nat", endpoint]
            try:
                await run_command(argv, netns=self.netns)
            except IptablesError as e:
                # conntrack exits 1 when no entry matched: nothing was stale.
                if "0 flow entries" not in str(e):
                    log.warning("deleting stale UDP flows: %s", e)

    async def cleanup(self) -> None:
        """Remove every chain of this proxier's prefix and the jumps into them."""
        async with self._lock:
            self._written = None
            self._applied = None
            await cleanup(self.config.chain_prefix, netns=self.netns)


async def cleanup(prefix: str, *, netns: str | None = None) -> bool:
    """Remove every chain named ``<prefix>-...`` that we own; False when there was none."""
    saved = await run_command(["iptables-save"], netns=netns)
    text = rules.render_cleanup(rules.parse_save(saved, prefix))
    if not text:
        return False
    await run_command(["iptables-restore", "--noflush"], stdin=text, netns=netns)
    return True
