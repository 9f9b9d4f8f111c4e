"""Cluster IP allocation with one ``IPAddress`` object per address in use.

Mirrors ``pkg/registry/core/service/ipallocator/ipallocator.go`` as of 1.33
(MultiCIDRServiceAllocator, GA): an address is taken by creating the
``networking.k8s.io/v1`` IPAddress named after it, whose ``parentRef`` points
at the Service; creation is atomic in storage, so two API servers never hand
out the same address. Random picks skip the network address and the first
address, which belongs to the ``kubernetes`` Service.
"""

from __future__ import annotations

import contextlib
import ipaddress
import random

import orjson

from pyk8s.api import errors, meta
from pyk8s.storage import interface as storage

PREFIX = "/registry/ipaddresses/"
ATTEMPTS = 64


class ClusterIPAllocator:
    def __init__(self, backend: storage.Interface, cidr: str) -> None:
        self.storage = backend
        self.network = ipaddress.ip_network(cidr, strict=False)

    def contains(self, ip: str) -> bool:
        try:
            return ipaddress.ip_address(ip) in self.network
        except ValueError:
            return False

    def _object(self, ip: str, namespace: str, name: str) -> bytes:
        family = "IPv4" if self.network.version == 4 else "IPv6"
        return orjson.dumps(
            {
                "apiVersion": "networking.k8s.io/v1",
                "kind": "IPAddress",
                "metadata": {
                    "name": ip,
                    "uid": meta.new_uid(),
                    "creationTimestamp": meta.now(),
                    "labels": {
                        "ipaddress.kubernetes.io/ip-family": family,
                        "ipaddress.kubernetes.io/managed-by": "ipallocator.k8s.io",
                    },
                },
                "spec": {
                    "parentRef": {
                        "group": "",
                        "resource": "services",
                        "namespace": namespace,
                        "name": name,
                    }
                },
            }
        )

    async def allocate(self, ip: str | None, namespace: str, name: str, field: str) -> str:
        """Take ``ip`` (Invalid if it is outside the range or taken), or a free random one."""
        if ip:
            if not self.contains(ip):
                raise errors.Invalid.for_object(
                    "Service",
                    "",
                    name,
                    [
                        errors.invalid_value(
                            field,
                            ip,
                            f"failed to allocate IP {ip}: the provided IP ({ip}) is not in "
                            f"the valid range. The range of valid IPs is {self.network}",
                        )
                    ],
                )
            try:
                await self.storage.create(PREFIX + ip, self._object(ip, namespace, name))
            except storage.KeyExistsError:
                raise errors.Invalid.for_object(
                    "Service",
                    "",
                    name,
                    [
                        errors.invalid_value(
                            field,
                            ip,
                            f"failed to allocate IP {ip}: provided IP is already allocated",
                        )
                    ],
                ) from None
            return ip
        size = self.network.num_addresses
        for _ in range(ATTEMPTS):
            offset = random.randrange(2, size - 1) if size > 4 else 1
            candidate = str(self.network.network_address + offset)
            try:
                await self.storage.create(
                    PREFIX + candidate, self._object(candidate, namespace, name)
                )
            except storage.KeyExistsError:
                continue
            return candidate
        raise errors.InternalError(f"failed to allocate a serviceIP: range {self.network} is full")

    async def release(self, ip: str) -> None:
        with contextlib.suppress(storage.KeyNotFoundError):
            await self.storage.delete(PREFIX + ip)
