"""Run as a script by test_crash.py: write to a SQLite store forever from
several concurrent writers, printing each acknowledged write as
``OP REVISION KEY VALUE`` (OP: C create, U update, D delete) until killed.
With a third argument ``compact`` it also compacts, in many tiny steps, to
100 revisions behind the newest one, over and over."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from pyk8s.storage.interface import KeyValue
from pyk8s.storage.sqlite import log as sqlite_log
from pyk8s.storage.sqlite.log import SqliteStorage


async def compact_forever(store: SqliteStorage) -> None:
    sqlite_log.COMPACT_STEP = 7
    while True:
        target = await store.current_revision() - 100
        if target > await store.compacted_revision():
            await store.compact(target)
        await asyncio.sleep(0.005)


async def main(path: Path, round_: str, compact: bool) -> None:
    store = await SqliteStorage.open(path)
    out = sys.stdout

    def ack(op: str, kv: KeyValue) -> None:
        out.write(f"{op} {kv.mod_revision} {kv.key} {kv.value.decode()}\n")
        out.flush()

    async def writer(w: int) -> None:
        n = 0
        while True:
            key = f"/registry/crash/{round_}/w{w}/{n}"
            ack("C", await store.create(key, f"{key}:0".encode()))
            for i in range(1, 3):
                new = f"{key}:{i}".encode()

                async def set_value(kv: KeyValue, new: bytes = new) -> bytes:
                    return new

                ack("U", await store.guaranteed_update(key, set_value))
            if n % 3 == 0:
                ack("D", await store.delete(key))
            n += 1

    print("ready", flush=True)
    tasks = [writer(w) for w in range(8)]
    if compact:
        tasks.append(compact_forever(store))
    await asyncio.gather(*tasks)


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]), sys.argv[2], sys.argv[3:] == ["compact"]))
