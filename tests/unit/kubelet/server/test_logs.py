"""Reading CRI log files the way kubectl logs asks: tail, since, timestamps, limits, follow."""

from __future__ import annotations

from pathlib import Path

from pyk8s.kubelet.runtime import logs as cri_logs
from pyk8s.kubelet.server import logs

S = 1_000_000_000


def write(path: Path, entries: list[tuple[int, str, str, bytes]]) -> None:
    with path.open("ab") as f:
        for ns, stream, tag, content in entries:
            f.write(cri_logs.format_entry(stream, tag, content, ns))


async def collect(path: Path, opts: logs.Options, running: bool = False) -> bytes:
    async def is_running() -> bool:
        return running

    return b"".join([c async for c in logs.stream(str(path), opts, is_running)])


async def test_options(tmp_path: Path) -> None:
    log = tmp_path / "0.log"
    write(log, [(10 * S, "stdout", "F", b"one"), (20 * S, "stderr", "P", b"tw"),
                (21 * S, "stderr", "F", b"o"), (30 * S, "stdout", "F", b"three")])  # fmt: skip
    assert await collect(log, logs.Options()) == b"one\ntwo\nthree\n"
    assert await collect(log, logs.Options(tail_lines=2)) == b"two\nthree\n"
    assert await collect(log, logs.Options(tail_lines=0)) == b""
    assert await collect(log, logs.Options(since_ns=15 * S)) == b"two\nthree\n"
    assert await collect(log, logs.Options(limit_bytes=6)) == b"one\ntw"
    stamped = await collect(log, logs.Options(timestamps=True, tail_lines=1))
    assert stamped == b"1970-01-01T00:00:30.000000000Z three\n"


async def test_follow_stops_when_the_container_stops(tmp_path: Path) -> None:
    log = tmp_path / "0.log"
    write(log, [(1, "stdout", "F", b"a")])
    assert await collect(log, logs.Options(follow=True), running=False) == b"a\n"
    assert await collect(tmp_path / "missing.log", logs.Options()) == b""


async def test_follow_goes_on_in_the_new_file_after_a_rotation(tmp_path: Path) -> None:
    log = tmp_path / "0.log"
    write(log, [(1, "stdout", "F", b"before")])
    state = {"running": True}

    async def running() -> bool:
        return state["running"]

    got: list[bytes] = []
    gen = logs.stream(str(log), logs.Options(follow=True), running)
    got.append(await anext(gen))
    write(log, [(2, "stdout", "F", b"late in the old file")])
    log.rename(tmp_path / "0.log.20250101-000000")  # rotated, as the log manager does
    write(log, [(3, "stdout", "F", b"in the new file")])
    got.append(await anext(gen))
    got.append(await anext(gen))
    state["running"] = False
    got += [c async for c in gen]
    assert got == [b"before\n", b"late in the old file\n", b"in the new file\n"]


async def test_tail_reaches_into_the_newest_rotated_file(tmp_path: Path) -> None:
    log = tmp_path / "0.log"
    write(tmp_path / "0.log.20250101-000000.gz", [(1, "stdout", "F", b"compressed: never read")])
    write(tmp_path / "0.log.20250101-000001", [(2, "stdout", "F", b"a"), (3, "stdout", "F", b"b")])
    assert await collect(log, logs.Options(tail_lines=1)) == b"b\n"  # the live file is not there
    write(log, [(4, "stdout", "F", b"c")])
    assert await collect(log, logs.Options(tail_lines=1)) == b"c\n"
    assert await collect(log, logs.Options(tail_lines=2)) == b"b\nc\n"
    assert await collect(log, logs.Options(tail_lines=5)) == b"a\nb\nc\n"
    assert await collect(log, logs.Options()) == b"c\n"  # without --tail: the live file only
