"""A foreign or damaged file stops start-up with an error naming it, and is left untouched."""

from __future__ import annotations

import asyncio
import hashlib
import os
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from pyk8s.storage.interface import CorruptStoreError, StorageUnavailableError
from pyk8s.storage.sqlite.log import SqliteStorage


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def garbage(path: Path) -> None:
    path.write_bytes(os.urandom(64 * 1024))


def foreign_sqlite(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT)")
    conn.execute("INSERT INTO notes (text) VALUES ('somebody else''s data')")
    conn.commit()
    conn.close()


def foreign_kine(path: Path) -> None:
    """A kine database (k3s): the same table, but not ours to take over."""
    conn = sqlite3.connect(path)
    conn.execute(
        "CREATE TABLE kine (id INTEGER PRIMARY KEY AUTOINCREMENT, name INTEGER, created "
        "INTEGER, deleted INTEGER, create_revision INTEGER, prev_revision INTEGER, lease "
        "INTEGER, value BLOB, old_value BLOB)"
    )
    conn.commit()
    conn.close()


def our_store(path: Path) -> None:
    async def fill() -> None:
        s = await SqliteStorage.open(path)
        for i in range(300):
            await s.create(f"/registry/configmaps/default/cm{i:04d}", os.urandom(1000))
        await s.close()

    asyncio.run(fill())


def damaged_pages(path: Path) -> None:
    our_store(path)
    with path.open("r+b") as f:
        f.seek(4096 * 3)
        f.write(os.urandom(4096 * 4))


def truncated(path: Path) -> None:
    our_store(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def newer_schema(path: Path) -> None:
    our_store(path)
    conn = sqlite3.connect(path)
    conn.execute("UPDATE meta SET value = 99 WHERE key = 'schema_version'")
    conn.commit()
    conn.close()


@pytest.mark.parametrize(
    ("make", "why"),
    [
        pytest.param(garbage, "not an SQLite database", id="garbage"),
        pytest.param(foreign_sqlite, "not a pyk8s store", id="foreign-sqlite"),
        pytest.param(foreign_kine, "not a pyk8s store", id="foreign-kine"),
        pytest.param(damaged_pages, "damaged|malformed", id="damaged-pages"),
        pytest.param(truncated, "damaged|malformed", id="truncated"),
        pytest.param(newer_schema, "unsupported schema version 99", id="newer-schema"),
    ],
)
async def test_refuses_and_leaves_file_alone(
    tmp_path: Path, make: Callable[[Path], None], why: str
) -> None:
    path = tmp_path / "state.db"
    await asyncio.to_thread(make, path)
    before = await asyncio.to_thread(digest, path)
    for _ in range(2):  # the second try is refused the same way (no lock left behind)
        with pytest.raises(CorruptStoreError, match=why) as err:
            await SqliteStorage.open(path)
        assert str(path) in str(err.value)
        assert "not changed" in str(err.value)
    assert await asyncio.to_thread(digest, path) == before


async def test_empty_file_becomes_a_store(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    path.touch()
    s = await SqliteStorage.open(path)
    try:
        await s.create("/registry/k", b"v")
    finally:
        await s.close()


async def test_unusable_place_is_unavailable_not_corrupt(tmp_path: Path) -> None:
    missing = tmp_path / "missing-dir" / "state.db"
    with pytest.raises(StorageUnavailableError, match=str(missing.parent)):
        await SqliteStorage.open(missing)
    a_dir = tmp_path / "state.db"
    await asyncio.to_thread(a_dir.mkdir)
    with pytest.raises(StorageUnavailableError, match=str(a_dir)):
        await SqliteStorage.open(a_dir)
