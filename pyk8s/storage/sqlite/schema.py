"""The SQLite file: its log table, its marker, and the checks made before use.

Mirrors kine ``pkg/drivers/sqlite/sqlite.go`` (the ``kine`` table and its
indexes). On top of kine, a pyk8s store carries a marker (``PRAGMA
application_id`` plus a ``meta`` table with the schema version), and
:func:`verify` refuses any file that is not a healthy pyk8s store *before* a
single byte of it is written: a foreign or damaged database stops start-up
with :class:`CorruptStoreError` naming the file; it is never reset.

Log rows (one per write; ``id`` is the revision):

- create:  created=1, deleted=0, create_revision=id, value=new
- update:  created=0, deleted=0, value=new, old_value=previous value
- delete:  created=0, deleted=1, value=old_value=last value
- ``prev_revision`` is the id of the key's previous row (0 for a key's first
  row); ``UNIQUE(name, prev_revision)`` turns a lost race into a constraint error.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from pyk8s.storage.interface import CorruptStoreError, StorageUnavailableError

APPLICATION_ID = 0x706B3873  # "pk8s"
SCHEMA_VERSION = 1
HEADER = b"SQLite format 3\x00"

DDL = (
    """CREATE TABLE kine (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        name TEXT NOT NULL,
        created INTEGER NOT NULL,
        deleted INTEGER NOT NULL,
        create_revision INTEGER NOT NULL,
        prev_revision INTEGER NOT NULL,
        lease INTEGER NOT NULL DEFAULT 0,
        value BLOB,
        old_value BLOB
    )""",
    "CREATE INDEX kine_name_id_index ON kine (name, id)",
    "CREATE UNIQUE INDEX kine_name_prev_revision_uindex ON kine (name, prev_revision)",
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID",
    f"INSERT INTO meta (key, value) VALUES ('schema_version', {SCHEMA_VERSION})",
    "INSERT INTO meta (key, value) VALUES ('compact_revision', 0)",
    "INSERT INTO meta (key, value) VALUES ('compact_done', 0)",
    f"PRAGMA application_id = {APPLICATION_ID}",
)

PRAGMAS = (
    "PRAGMA journal_mode = WAL",
    "PRAGMA synchronous = FULL",  # an acknowledged commit survives power loss
    "PRAGMA busy_timeout = 10000",
    "PRAGMA cache_size = -16000",  # 16 MiB page cache per connection
    "PRAGMA temp_store = MEMORY",
)


def _corrupt(path: Path, why: str) -> CorruptStoreError:
    return CorruptStoreError(
        f"{path}: {why}; refusing to start (the file was not changed). Move it away to start "
        "with an empty store, or restore a backup."
    )


def verify(path: Path) -> bool:
    """Check ``path`` read-only; True if it is a pyk8s store, False if it is
    absent or empty (a new store may be made), CorruptStoreError otherwise."""
    try:
        with path.open("rb") as f:
            head = f.read(len(HEADER))
    except FileNotFoundError:
        return False
    except OSError as e:
        raise StorageUnavailableError(f"cannot read {path}: {e}") from e
    if not head:
        return False
    if head != HEADER:
        raise _corrupt(path, "not an SQLite database")
    try:
        conn = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True, isolation_level=None)
    except sqlite3.Error as e:
        raise _corrupt(path, f"cannot be opened ({e})") from e
    try:
        app_id = conn.execute("PRAGMA application_id").fetchone()[0]
        if app_id == 0 and not conn.execute("SELECT 1 FROM sqlite_master").fetchone():
            return False  # holds nothing: a start-up that died before creating the schema
        if app_id != APPLICATION_ID:
            raise _corrupt(path, f"not a pyk8s store (application_id {app_id:#x})")
        rows = dict(conn.execute("SELECT key, value FROM meta").fetchall())
        version = rows.get("schema_version")
        if version != SCHEMA_VERSION:
            raise _corrupt(path, f"unsupported schema version {version!r}")
        problems = [r[0] for r in conn.execute("PRAGMA quick_check(5)").fetchall()]
        if problems != ["ok"]:
            raise _corrupt(path, "damaged: " + "; ".join(problems))
    except sqlite3.DatabaseError as e:
        raise _corrupt(path, f"damaged or not a pyk8s store ({e})") from e
    finally:
        conn.close()
    return True


def connect(path: Path, *, create: bool = False) -> sqlite3.Connection:
    """A connection with the store's pragmas; ``create`` lays out a new store."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    try:
        for stmt in PRAGMAS:
            conn.execute(stmt)
        if create:
            conn.execute("BEGIN IMMEDIATE")
            for stmt in DDL:
                conn.execute(stmt)
            conn.execute("COMMIT")
    except BaseException:
        conn.close()
        raise
    return conn
