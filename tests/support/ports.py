"""Free ports for the servers tests start.

A port is probed on every address (a server may bind 0.0.0.0, or the node's address, not
127.0.0.1), for TCP and UDP alike (the cluster DNS binds both), and one process never hands
out a port twice: two probes in a row may otherwise return the same port, which is free at
both times but not once the first server holds it.
"""

from __future__ import annotations

import socket

_handed_out: set[int] = set()


def free_port(host: str = "") -> int:
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
            tcp.bind((host, 0))
            port = int(tcp.getsockname()[1])
            if port in _handed_out:
                continue
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                try:
                    udp.bind((host, port))
                except OSError:
                    continue
        _handed_out.add(port)
        return port
