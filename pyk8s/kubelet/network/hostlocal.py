"""Host-local IP address management: one file per reserved address, kept on disk.

Mirrors the CNI plugins' ``plugins/ipam/host-local/backend/disk/backend.go`` and
``allocator/allocator.go``: a directory per network holds a file named by each reserved
address (its content: the owning sandbox id) and ``last_reserved_ip.0``; allocation goes
round-robin from the address after the last one reserved, so a freed address is not handed
out again at once. Reservations survive restarts of the agent; one whose owner is gone
(its network namespace no longer exists) is reclaimed when the range runs out. All methods
block (file I/O under an ``flock``): call them from a thread.
"""

from __future__ import annotations

import contextlib
import fcntl
import ipaddress
import os
from collections.abc import Callable, Iterator
from pathlib import Path

LAST_RESERVED = "last_reserved_ip.0"


class RangeFullError(RuntimeError):
    """Every address of the range is reserved by a live owner."""


class HostLocal:
    """Addresses of ``subnet`` except the network, broadcast and gateway (the first host)."""

    def __init__(self, directory: Path, subnet: str) -> None:
        self.directory = directory
        self.subnet = ipaddress.IPv4Network(subnet, strict=False)
        if self.subnet.num_addresses < 4:
            raise ValueError(f"pod CIDR {subnet} is too small for pods (want /30 or larger)")
        self.gateway = self.subnet.network_address + 1

    def _locked(self) -> contextlib.AbstractContextManager[None]:
        return _locked(self.directory)

    def _candidates(self) -> list[ipaddress.IPv4Address]:
        first = int(self.subnet.network_address) + 2
        last = int(self.subnet.broadcast_address) - 1
        start = first
        with contextlib.suppress(OSError, ValueError):
            prev = ipaddress.IPv4Address((self.directory / LAST_RESERVED).read_text().strip())
            if first <= int(prev) < last:
                start = int(prev) + 1
        order = list(range(start, last + 1)) + list(range(first, start))
        return [ipaddress.IPv4Address(i) for i in order]

    def reserved(self) -> dict[str, str]:
        """Reserved address → owner."""
        out: dict[str, str] = {}
        if not self.directory.is_dir():
            return out
        for path in self.directory.iterdir():
            try:
                ip = ipaddress.IPv4Address(path.name)
            except ValueError:
                continue
            if ip in self.subnet:
                with contextlib.suppress(OSError):
                    out[path.name] = path.read_text().strip()
        return out

    def allocate(
        self, owner: str, alive: Callable[[str], bool] | None = None
    ) -> ipaddress.IPv4Address:
        """Reserve an address for ``owner`` (the one it already holds, if any)."""
        with self._locked():
            held = [ip for ip, o in self.reserved().items() if o == owner]
            if held:
                return ipaddress.IPv4Address(held[0])
            ip = self._reserve(owner)
            if ip is None and alive is not None:
                for addr, o in self.reserved().items():
                    if not alive(o):
                        (self.directory / addr).unlink(missing_ok=True)
                ip = self._reserve(owner)
            if ip is None:
                raise RangeFullError(f"no free address left in {self.subnet}")
            return ip

    def _reserve(self, owner: str) -> ipaddress.IPv4Address | None:
        for ip in self._candidates():
            try:
                fd = os.open(self.directory / str(ip), os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                continue
            with os.fdopen(fd, "w") as f:
                f.write(owner)
            (self.directory / LAST_RESERVED).write_text(str(ip))
            return ip
        return None

    def release(self, owner: str) -> list[str]:
        """Free every address ``owner`` holds; return them."""
        return release(self.directory, owner)


@contextlib.contextmanager
def _locked(directory: Path) -> Iterator[None]:
    directory.mkdir(parents=True, exist_ok=True)
    fd = os.open(directory / "lock", os.O_CREAT | os.O_RDWR, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def release(directory: Path, owner: str) -> list[str]:
    """Free every address ``owner`` holds in the range kept in ``directory``; return them."""
    if not directory.is_dir():
        return []
    with _locked(directory):
        freed = []
        for path in directory.iterdir():
            if path.name in ("lock", LAST_RESERVED):
                continue
            with contextlib.suppress(OSError):
                if path.read_text().strip() == owner:
                    path.unlink(missing_ok=True)
                    freed.append(path.name)
        return freed
