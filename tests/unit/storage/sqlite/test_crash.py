"""kill -9 in the middle of a stream of writes loses no acknowledged write,
and the store reopens consistent."""

from __future__ import annotations

import asyncio
import sqlite3
import sys
from pathlib import Path

import pytest

from pyk8s.storage.interface import KeyNotFoundError
from pyk8s.storage.sqlite.log import SqliteStorage

WRITER = Path(__file__).with_name("crash_writer.py")


async def write_then_kill(
    path: Path, round_: str, acks_before_kill: int, *extra: str
) -> list[list[str]]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(WRITER),
        str(path),
        round_,
        *extra,
        stdout=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None
    acks: list[list[str]] = []
    try:
        first = await asyncio.wait_for(proc.stdout.readline(), 30)
        assert first == b"ready\n", first
        while len(acks) < acks_before_kill:
            line = await asyncio.wait_for(proc.stdout.readline(), 30)
            assert line.endswith(b"\n"), "writer exited early"
            acks.append(line.decode().split())
    finally:
        proc.kill()  # SIGKILL: no cleanup, no checkpoint, no close
        await proc.wait()
    # Acks the writer printed after the last one we read count too.
    rest = await proc.stdout.read()
    for line in rest.decode().splitlines(keepends=True):
        if line.endswith("\n"):
            acks.append(line.split())
    return acks


def check_file(path: Path, compacted: bool = False) -> dict[int, tuple[str, int, bytes]]:
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        rows = conn.execute(
            "SELECT id, name, deleted, value, prev_revision FROM kine ORDER BY id"
        ).fetchall()
    finally:
        conn.close()
    ids = [r[0] for r in rows]
    assert ids == sorted(set(ids))
    if not compacted:  # every row follows the key's previous one
        last: dict[str, int] = {}
        for rid, name, _, _, prev in rows:
            assert prev == last.get(name, 0), f"row {rid} of {name} does not follow its last row"
            last[name] = rid
    return {r[0]: (r[1], r[2], r[3]) for r in rows}


@pytest.mark.slow
async def test_kill_9_loses_no_acknowledged_write(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    all_acks: list[list[str]] = []
    for round_, kill_after in enumerate((150, 400, 60)):
        acks = await write_then_kill(path, str(round_), kill_after)
        assert len(acks) >= kill_after
        all_acks += acks
        by_id = await asyncio.to_thread(check_file, path)
        for op, rev, key, value in acks:
            assert int(rev) in by_id, f"acknowledged {op} {key} at {rev} is lost"
            name, deleted, stored = by_id[int(rev)]
            assert (name, bool(deleted), stored) == (key, op == "D", value.encode())

        store = await SqliteStorage.open(path)
        try:
            top = max(int(a[1]) for a in all_acks)
            assert await store.current_revision() >= top
            for op, rev, key, value in acks:
                if op == "D":
                    continue
                kv = await store.get(key, revision=int(rev))
                assert (kv.value, kv.mod_revision) == (value.encode(), int(rev))
            after = await store.create(f"/registry/after/{round_}", b"v")
            assert after.mod_revision > await store.compacted_revision()
            assert after.mod_revision > top
        finally:
            await store.close()


@pytest.mark.slow
async def test_kill_9_while_compacting(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    for round_, kill_after in enumerate((700, 1500)):
        acks = await write_then_kill(path, str(round_), kill_after, "compact")
        by_id = await asyncio.to_thread(check_file, path, True)
        store = await SqliteStorage.open(path)
        try:
            floor = await store.compacted_revision()
            assert floor > 0, "the writer never compacted"
            last: dict[str, list[str]] = {}
            for ack in acks:
                op, rev, key, value = ack
                last[key] = ack
                if int(rev) >= floor:  # compaction never touches these rows
                    assert by_id[int(rev)] == (key, op == "D", value.encode())
            # Each key is where its last acknowledged write left it, or one
            # write further (committed, killed before it was printed).
            for key, (op, rev, _, value) in last.items():
                try:
                    kv = await store.get(key)
                except KeyNotFoundError:
                    # deleted, or its delete (which follows ":2") landed unacknowledged
                    assert op == "D" or value.endswith(":2"), (op, key, value)
                    continue
                assert kv.mod_revision >= int(rev)
                if kv.mod_revision == int(rev):
                    assert op != "D" and kv.value == value.encode()
            # Reads at the compacted revision still work, and compaction finishes.
            await store.list("/registry/crash/", revision=floor)
            await store.compact(await store.current_revision())
        finally:
            await store.close()
        left = await asyncio.to_thread(check_file, path, True)
        names = [name for name, _, _ in left.values()]
        assert len(names) == len(set(names)), "a key kept more than one row"
