from __future__ import annotations

import datetime

import pytest

from pyk8s.kubelet.runtime import logs


def test_timestamp_is_rfc3339_nano_utc() -> None:
    assert logs.timestamp(1475712929_669794202) == "2016-10-06T00:15:29.669794202Z"
    assert logs.timestamp(1_000_000_007) == "1970-01-01T00:00:01.000000007Z"


def test_parse_roundtrip() -> None:
    line = logs.format_entry("stderr", "P", b"a b  c", 1475712929_669794202)
    e = logs.parse_line(line)
    assert (e.stream, e.partial, e.content, e.time_ns) == (
        "stderr",
        True,
        b"a b  c",
        1475712929_669794202,
    )
    assert e.time == datetime.datetime(2016, 10, 6, 0, 15, 29, 669794, tzinfo=datetime.UTC)
    assert logs.parse_line(b"2016-10-06T00:17:09.669794202Z stdout F ").content == b""


@pytest.mark.parametrize(
    "line",
    [
        pytest.param(b"hello", id="no-fields"),
        pytest.param(b"2016-10-06T00:17:09.669794202Z stdin F x", id="bad-stream"),
        pytest.param(b"2016-10-06T00:17:09.669794202Z stdout X x", id="bad-tag"),
        pytest.param(b"2016-10-06T00:17:09Z stdout F x", id="no-fraction"),
    ],
)
def test_parse_rejects_bad_lines(line: bytes) -> None:
    with pytest.raises(ValueError):
        logs.parse_line(line)


def tags(entries: list[bytes]) -> list[tuple[str, bytes]]:
    return [
        ((logs.parse_line(e).partial and "P") or "F", logs.parse_line(e).content) for e in entries
    ]


@pytest.mark.parametrize(
    ("chunks", "expected"),
    [
        pytest.param([b"a\nb\n"], [("F", b"a"), ("F", b"b")], id="two-lines"),
        pytest.param([b"ab", b"c\nd"], [("F", b"abc"), ("F", b"d")], id="split-chunks-and-rest"),
        pytest.param(
            [b"x" * 10 + b"\n"], [("P", b"x" * 4), ("P", b"x" * 4), ("F", b"xx")], id="long"
        ),
        pytest.param([b"xxxx\n"], [("F", b"xxxx")], id="exactly-max"),
        pytest.param([b"\n\n"], [("F", b""), ("F", b"")], id="empty-lines"),
    ],
)
def test_splitter(chunks: list[bytes], expected: list[tuple[str, bytes]]) -> None:
    s = logs.LineSplitter("stdout", max_line=4)
    out: list[bytes] = []
    for c in chunks:
        out += s.feed(c)
    out += s.flush()
    assert tags(out) == expected
