"""Rotation of running containers' log files by size.

Mirrors ``pkg/kubelet/logs/container_log_manager.go``: every monitoring period, each running
container whose log outgrew ``containerLogMaxSize`` has its file renamed to
``<log>.<YYYYmmdd-HHMMSS>`` and the runtime told to reopen it (``ReopenContainerLog``);
rotated files except the newest are gzip-compressed, and only ``containerLogMaxFiles`` files
(the live one included) are kept, the oldest removed first. ``kubectl logs`` reads the live
file, as upstream does.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import logging
import os
import shutil
import time

from pyk8s.kubelet.runtime import interface as cri

log = logging.getLogger(__name__)

TIMESTAMP_FORMAT = "%Y%m%d-%H%M%S"
COMPRESS_SUFFIX = ".gz"
TMP_SUFFIX = ".tmp"


def rotated_files(log_path: str) -> list[str]:
    """The rotated files of a log, oldest first (their names sort by time)."""
    d, base = os.path.split(log_path)
    try:
        names = os.listdir(d)
    except FileNotFoundError:
        return []
    prefix = base + "."
    return sorted(
        os.path.join(d, n)
        for n in names
        if n.startswith(prefix) and not n.endswith(TMP_SUFFIX) and n != base
    )


def _compress(path: str) -> None:
    tmp = path + COMPRESS_SUFFIX + TMP_SUFFIX
    with open(path, "rb") as src, gzip.open(tmp, "wb") as dst:
        shutil.copyfileobj(src, dst)
    os.rename(tmp, path + COMPRESS_SUFFIX)
    os.unlink(path)


def clean_and_compress(log_path: str, keep: int) -> None:
    """Before a rotation: keep the newest ``keep`` rotated files and compress them
    (``cleanupUnusedLogs``, ``removeExcessLogs``, ``compressLog``)."""
    d = os.path.dirname(log_path)
    with contextlib.suppress(FileNotFoundError):
        for n in os.listdir(d):  # left by an interrupted compression
            if n.endswith(TMP_SUFFIX):
                os.unlink(os.path.join(d, n))
    rotated = rotated_files(log_path)
    for old in rotated[: max(0, len(rotated) - keep)]:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(old)
    rotated = rotated_files(log_path)
    for path in rotated:
        if not path.endswith(COMPRESS_SUFFIX):
            _compress(path)


def rotate_file(log_path: str, now: float) -> str:
    """Rename the live log aside; return the new name (a second later if that name is taken)."""
    stamp = time.strftime(TIMESTAMP_FORMAT, time.gmtime(now))
    target = f"{log_path}.{stamp}"
    n = 0
    while os.path.exists(target) or os.path.exists(target + COMPRESS_SUFFIX):
        n += 1
        target = f"{log_path}.{time.strftime(TIMESTAMP_FORMAT, time.gmtime(now + n))}"
    os.rename(log_path, target)
    return target


def needs_rotation(log_path: str, max_size: int) -> bool:
    try:
        return os.stat(log_path).st_size >= max_size
    except FileNotFoundError:
        return False


class ContainerLogManager:
    """Rotates the logs of the runtime's running containers (``Start``: one loop)."""

    def __init__(
        self,
        runtime: cri.ContainerRuntime,
        max_size: int,
        max_files: int,
        period: float = 10.0,
    ) -> None:
        if max_files < 2:
            raise ValueError("containerLogMaxFiles must be at least 2")
        if max_size <= 0:
            raise ValueError("containerLogMaxSize must be positive")
        self.runtime = runtime
        self.max_size = max_size
        self.max_files = max_files
        self.period = period

    async def rotate_logs(self) -> None:
        """One pass over the running containers (``rotateLogs``)."""
        for c in await self.runtime.list_containers():
            if c.state != cri.ContainerState.RUNNING or not c.log_path:
                continue
            try:
                await self.rotate_container(c.id, c.log_path)
            except (OSError, cri.ContainerRuntimeError) as e:
                log.warning("rotating the log of container %s: %s", c.id, e)

    async def rotate_container(
        self, container_id: str, log_path: str, now: float | None = None
    ) -> bool:
        if not await asyncio.to_thread(needs_rotation, log_path, self.max_size):
            return False
        # The live file and the one about to be rotated count too.
        await asyncio.to_thread(clean_and_compress, log_path, self.max_files - 2)
        rotated = await asyncio.to_thread(
            rotate_file, log_path, time.time() if now is None else now
        )
        try:
            await self.runtime.reopen_container_log(container_id)
        except cri.ContainerRuntimeError:
            # The container is gone: put the file back, as upstream does, so nothing is lost.
            with contextlib.suppress(OSError):
                await asyncio.to_thread(os.rename, rotated, log_path)
            raise
        return True

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.period)
            try:
                await self.rotate_logs()
            except cri.ContainerRuntimeError as e:
                log.warning("container log rotation: %s", e)
