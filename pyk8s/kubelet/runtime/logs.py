"""CRI container log format: write and parse ``<RFC3339Nano> <stream> <P|F> <content>`` lines.

Mirrors containerd's ``internal/cri/io/logger.go`` (``redirectLogs``: one line per newline,
lines longer than the buffer cut into partial ``P`` entries, the rest tagged ``F``) and the
kubelet's reader ``pkg/kubelet/kuberuntime/logs/logs.go`` (``parseCRILog``). The writer is
used by the per-container shim (:mod:`.shim`), so it must stay stdlib-only and cheap to
import (no dataclasses).
"""

from __future__ import annotations

import datetime
import os
import time
from typing import NamedTuple

STDOUT = "stdout"
STDERR = "stderr"
PARTIAL = "P"
FULL = "F"
MAX_LINE = 16 * 1024  # containerd's default max_container_log_line_size


def timestamp(ns: int | None = None) -> str:
    """RFC 3339 with nanoseconds in UTC, e.g. ``2016-10-06T00:17:09.669794202Z``."""
    if ns is None:
        ns = time.time_ns()
    secs, frac = divmod(ns, 1_000_000_000)
    base = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs))
    return f"{base}.{frac:09d}Z"


def format_entry(stream: str, tag: str, content: bytes, ns: int | None = None) -> bytes:
    return f"{timestamp(ns)} {stream} {tag} ".encode() + content + b"\n"


class Entry(NamedTuple):
    time: datetime.datetime
    time_ns: int
    stream: str
    partial: bool
    content: bytes


def parse_line(line: bytes) -> Entry:
    """Parse one log-file line (without or with its trailing newline)."""
    line = line.rstrip(b"\n")
    try:
        ts, stream, tag, *rest = line.split(b" ", 3)
    except ValueError:
        raise ValueError(f"not a CRI log line: {line[:80]!r}") from None
    if tag not in (b"P", b"F") or stream not in (b"stdout", b"stderr"):
        raise ValueError(f"not a CRI log line: {line[:80]!r}")
    t = ts.decode()
    if not t.endswith("Z") or "." not in t:
        raise ValueError(f"bad timestamp {t!r}")
    whole, frac = t[:-1].split(".")
    dt = datetime.datetime.strptime(whole, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=datetime.UTC)
    ns = int(dt.timestamp()) * 1_000_000_000 + int(frac.ljust(9, "0")[:9])
    return Entry(
        time=dt.replace(microsecond=int(frac.ljust(9, "0")[:6])),
        time_ns=ns,
        stream=stream.decode(),
        partial=tag == b"P",
        content=rest[0] if rest else b"",
    )


class LineSplitter:
    """Turns a stream's chunks into CRI entries, one per line; lines longer than ``max_line``
    are cut into partial entries. ``flush()`` at EOF emits the unterminated rest as ``F``."""

    def __init__(self, stream: str, max_line: int = MAX_LINE) -> None:
        self.stream = stream
        self.max_line = max_line
        self._buf = b""

    def feed(self, data: bytes) -> list[bytes]:
        self._buf += data
        out: list[bytes] = []
        while True:
            nl = self._buf.find(b"\n")
            if nl == -1 or nl > self.max_line:
                if len(self._buf) >= self.max_line:
                    out.append(format_entry(self.stream, PARTIAL, self._buf[: self.max_line]))
                    self._buf = self._buf[self.max_line :]
                    continue
                return out
            out.append(format_entry(self.stream, FULL, self._buf[:nl]))
            self._buf = self._buf[nl + 1 :]

    def flush(self) -> list[bytes]:
        if not self._buf:
            return []
        rest, self._buf = self._buf, b""
        return [format_entry(self.stream, FULL, rest)]


def open_log(path: str) -> int:
    """Open (create) a container log file for appending; the kubelet may rotate it."""
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o640)
