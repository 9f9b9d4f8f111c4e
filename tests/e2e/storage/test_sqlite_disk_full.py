"""A full disk: SQLite writes fail with a clear error, reads go on, nothing is
damaged, and writes work again once there is space. Needs root (a tiny tmpfs)."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from pyk8s.storage.interface import KeyNotFoundError, StorageUnavailableError
from pyk8s.storage.sqlite.log import SqliteStorage

pytestmark = pytest.mark.e2e


async def run(*argv: str) -> None:
    proc = await asyncio.create_subprocess_exec(
        *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    out, _ = await proc.communicate()
    if proc.returncode:
        raise RuntimeError(f"{' '.join(argv)} failed: {out.decode().strip()}")


@contextlib.asynccontextmanager
async def tiny_tmpfs(where: Path, size: str) -> AsyncIterator[Path]:
    if os.geteuid() != 0:
        pytest.skip("needs root to mount a tmpfs (run the e2e tests as root)")
    await asyncio.to_thread(where.mkdir)
    await run("mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where))
    try:
        yield where
    finally:
        await run("umount", "-l", str(where))


def fill(path: Path) -> int:
    """Write zeros to ``path`` until the filesystem is full; bytes written."""
    written = 0
    chunk = b"\0" * 4096
    with path.open("wb", buffering=0) as f:
        while True:
            try:
                written += f.write(chunk) or 0
            except OSError as e:
                if e.errno != errno.ENOSPC:
                    raise
                return written


def integrity(path: Path) -> list[tuple[str]]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute("PRAGMA integrity_check").fetchall()
    finally:
        conn.close()


async def test_full_disk_refuses_writes_then_recovers(tmp_path: Path) -> None:
    async with tiny_tmpfs(tmp_path / "mnt", "1m") as mnt:
        path = mnt / "state.db"
        store = await SqliteStorage.open(path)
        try:
            for i in range(20):
                await store.create(f"/registry/cm/{i:02d}", b"x" * 1000)
            kept = await store.guaranteed_update("/registry/cm/00", _set(b"y" * 1000))
            rev = await store.current_revision()

            filler = mnt / "filler"
            assert await asyncio.to_thread(fill, filler) > 0
            big = os.urandom(256 * 1024)  # more than any free room left in the WAL
            with pytest.raises(StorageUnavailableError, match="disk full") as err:
                await store.create("/registry/cm/big", big)
            assert str(path) in str(err.value), err.value
            with pytest.raises(StorageUnavailableError, match="disk full"):
                await store.guaranteed_update("/registry/cm/01", _set(big))

            # Nothing changed, and every kind of read still works.
            assert await store.current_revision() == rev
            with pytest.raises(KeyNotFoundError):
                await store.get("/registry/cm/big")
            assert (await store.get("/registry/cm/01")).value == b"x" * 1000
            assert len((await store.list("/registry/cm/")).items) == 20
            old = await store.get("/registry/cm/00", revision=kept.mod_revision - 1)
            assert old.value == b"x" * 1000
            page = await store.list("/registry/cm/", limit=5, revision=rev - 1)
            assert len(page.items) == 5
            assert await asyncio.to_thread(integrity, path) == [("ok",)]

            # Space comes back: so do writes, with the next revision.
            await asyncio.to_thread(filler.unlink)
            created = await store.create("/registry/cm/big", big)
            assert created.mod_revision == rev + 1
            assert (await store.get("/registry/cm/big")).value == big
        finally:
            await store.close()

        store = await SqliteStorage.open(path)
        try:
            assert await store.current_revision() == rev + 1
            assert await store.count("/registry/cm/") == 21
        finally:
            await store.close()
        assert await asyncio.to_thread(integrity, path) == [("ok",)]


def _set(value: bytes):  # type: ignore[no-untyped-def]
    async def update(kv: object) -> bytes:
        return value

    return update
