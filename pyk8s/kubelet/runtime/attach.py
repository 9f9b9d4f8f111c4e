"""The attach protocol between a container's shim and the runtime (``kubectl attach``,
``kubectl run -it``).

The shim listens on a unix socket per container. Each direction is a sequence of frames:
one byte of type, four bytes of big-endian length, the payload. From the runtime: ``STDIN``
data, ``CLOSE_STDIN``, ``RESIZE`` (payload ``b"<cols> <rows>"``). From the shim: ``STDOUT`` and
``STDERR`` data (a tty's output is all ``STDOUT``). The shim closes the connection when the
container exits. A client attached with stdin says so first with an empty ``STDIN`` frame
(under ``stdinOnce`` its leaving closes the container's stdin, as containerd's attach does).
CRI-O's ``conmon`` attach socket plays the same part (one byte of stream id
per packet); ours frames both directions so that a resize never mixes with input.
Stdlib only: the shim imports it.
"""

from __future__ import annotations

import struct

STDIN = 0
STDOUT = 1
STDERR = 2
CLOSE_STDIN = 3
RESIZE = 4

HEADER = struct.Struct(">BI")
MAX_FRAME = 1 << 20


def frame(kind: int, payload: bytes = b"") -> bytes:
    return HEADER.pack(kind, len(payload)) + payload


class Decoder:
    """Incremental frame decoder: ``feed`` bytes, get complete ``(kind, payload)`` frames."""

    def __init__(self) -> None:
        self._buf = b""

    def feed(self, data: bytes) -> list[tuple[int, bytes]]:
        self._buf += data
        out = []
        while len(self._buf) >= HEADER.size:
            kind, size = HEADER.unpack_from(self._buf)
            if size > MAX_FRAME:
                raise ValueError(f"attach frame too large: {size}")
            end = HEADER.size + size
            if len(self._buf) < end:
                break
            out.append((kind, self._buf[HEADER.size : end]))
            self._buf = self._buf[end:]
        return out
