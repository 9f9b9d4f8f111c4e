"""Reading a container's CRI log file as ``kubectl logs`` asks for it.

Mirrors ``pkg/kubelet/kuberuntime/logs/logs.go`` (``ReadLogs``: ``--tail`` counted in whole
lines, ``--since``/``--since-time``, ``--timestamps``, ``--limit-bytes``, partial lines
joined, ``--follow`` until the container stops). One departure: a ``--tail`` longer than the
live file also reads the newest rotated file, so a tail asked right after a rotation is not empty
(upstream reads the live file only).
"""

from __future__ import annotations

import asyncio
import datetime
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import BinaryIO

from pyk8s.kubelet import container_log_manager
from pyk8s.kubelet.runtime import logs as cri_logs

FOLLOW_POLL = 0.2


@dataclass(frozen=True)
class Options:
    follow: bool = False
    tail_lines: int | None = None
    since_ns: int | None = None
    timestamps: bool = False
    limit_bytes: int | None = None


def _format(entries: list[cri_logs.Entry], opts: Options) -> list[bytes]:
    """Whole lines (partials joined), filtered by ``since``."""
    lines: list[bytes] = []
    pending: list[cri_logs.Entry] = []
    for e in entries:
        pending.append(e)
        if e.partial:
            continue
        first = pending[0]
        content = b"".join(p.content for p in pending) + b"\n"
        pending = []
        if opts.since_ns is not None and first.time_ns < opts.since_ns:
            continue
        if opts.timestamps:
            ts = cri_logs.timestamp(first.time_ns).encode()
            content = ts + b" " + content
        lines.append(content)
    return lines


def parse(data: bytes) -> tuple[list[cri_logs.Entry], int]:
    """Entries of the complete lines in ``data`` and how many bytes they used."""
    end = data.rfind(b"\n") + 1
    out = []
    for line in data[:end].splitlines():
        try:
            out.append(cri_logs.parse_line(line))
        except ValueError:
            continue
    return out, end


class _Reader:
    """A log file read as it grows, following it across a rotation: once the renamed file
    holds nothing more, the new file at the path is read from its start."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.f: BinaryIO | None = None

    def read(self) -> bytes:
        if self.f is None:
            try:
                self.f = open(self.path, "rb")  # noqa: SIM115 - kept open while following
            except FileNotFoundError:
                return b""
        data = self.f.read()
        if data:
            return data
        try:
            rotated = os.stat(self.path).st_ino != os.fstat(self.f.fileno()).st_ino
        except FileNotFoundError:
            rotated = False
        if rotated:
            self.f.close()
            self.f = None
            return self.read()
        return b""

    def close(self) -> None:
        if self.f is not None:
            self.f.close()
            self.f = None


def _previous(path: str) -> bytes:
    """The newest rotated file, if it is not compressed yet (it stays plain until the next
    rotation), or nothing."""
    for rotated in reversed(container_log_manager.rotated_files(path)):
        if rotated.endswith(container_log_manager.COMPRESS_SUFFIX):
            return b""
        try:
            with open(rotated, "rb") as f:
                return f.read()
        except FileNotFoundError:  # compressed meanwhile
            continue
    return b""


async def stream(
    path: str, opts: Options, running: Callable[[], Awaitable[bool]]
) -> AsyncIterator[bytes]:
    reader = _Reader(path)
    try:
        async for chunk in _stream(reader, opts, running):
            yield chunk
    finally:
        await asyncio.to_thread(reader.close)


async def _stream(
    reader: _Reader, opts: Options, running: Callable[[], Awaitable[bool]]
) -> AsyncIterator[bytes]:
    data = await asyncio.to_thread(reader.read)
    entries, used = parse(data)
    rest = data[used:]
    lines = _format(entries, opts)
    if opts.tail_lines is not None and len(lines) < opts.tail_lines:
        older, _ = parse(await asyncio.to_thread(_previous, reader.path))
        lines = _format(older, opts) + lines
    if opts.tail_lines is not None:
        lines = lines[-opts.tail_lines :] if opts.tail_lines > 0 else []
    budget = opts.limit_bytes
    for whole in lines:
        line = whole
        if budget is not None:
            if budget <= 0:
                return
            line = line[:budget]
            budget -= len(line)
        yield line
    if not opts.follow:
        return
    while True:
        more = await asyncio.to_thread(reader.read)
        rest += more
        entries, used = parse(rest)
        rest = rest[used:]
        for whole in _format(entries, Options(timestamps=opts.timestamps)):
            line = whole
            if budget is not None:
                if budget <= 0:
                    return
                line = line[:budget]
                budget -= len(line)
            yield line
        if not more:
            if not await running():
                return
            await asyncio.sleep(FOLLOW_POLL)


def parse_since_time(value: str) -> int:
    t = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    return int(t.timestamp() * 1e9)
