"""Run as a script by test_crash.py: write to a SQLite store forever from
several concurrent writers, printing each acknowledged write as
``OP REVISION KEY VALUE`` (OP: C create, U update, D delete) until killed."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from pyk8s.storage.interface import KeyValue
from pyk8s.storage.sqlite.log import SqliteStorage


async def main(path: Path, round_: str) -> None:
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
    await asyncio.gather(*(writer(w) for w in range(8)))


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]), sys.argv[2]))
