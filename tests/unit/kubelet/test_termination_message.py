"""Termination messages: the file's last 4 KiB, or the log's last 80 lines / 2 KiB on error."""

from __future__ import annotations

from pathlib import Path

from pyk8s.kubelet import termination_message as tm
from pyk8s.kubelet.runtime import logs


def write_log(path: Path, lines: list[bytes]) -> None:
    with path.open("wb") as f:
        for line in lines:
            f.write(logs.format_entry(logs.STDOUT, logs.FULL, line))


def annotations(host: Path | None, policy: str = "File") -> dict[str, str]:
    out = {tm.POLICY_ANNOTATION: policy}
    if host is not None:
        out[tm.FILE_ANNOTATION] = str(host)
    return out


def test_file_is_created_empty_and_writable_by_anyone(tmp_path: Path) -> None:
    f = tm.create_file(tmp_path / "pod", "c", 2)
    assert f == tmp_path / "pod" / "containers" / "c" / "termination-2"
    assert f.read_bytes() == b"" and f.stat().st_mode & 0o777 == 0o666


def test_file_message_keeps_the_last_4k(tmp_path: Path) -> None:
    f = tm.create_file(tmp_path, "c", 0)
    f.write_bytes(b"a" * 10 + b"b" * tm.MAX_MESSAGE)
    msg = tm.message(annotations(f), "", 1, "Error")
    assert msg == "b" * tm.MAX_MESSAGE


def test_file_policy_never_reads_the_log(tmp_path: Path) -> None:
    log = tmp_path / "0.log"
    write_log(log, [b"boom"])
    f = tm.create_file(tmp_path, "c", 0)
    assert tm.message(annotations(f), str(log), 1, "Error") == ""


def test_fallback_to_logs_on_error_takes_the_last_80_lines(tmp_path: Path) -> None:
    log = tmp_path / "0.log"
    write_log(log, [f"line {i}".encode() for i in range(100)])
    f = tm.create_file(tmp_path, "c", 0)
    msg = tm.message(annotations(f, tm.FALLBACK_TO_LOGS), str(log), 2, "Error")
    assert msg.splitlines()[0] == "line 20" and msg.splitlines()[-1] == "line 99"
    assert msg.endswith("\n")


def test_fallback_caps_at_2k_from_the_end(tmp_path: Path) -> None:
    log = tmp_path / "0.log"
    write_log(log, [b"x" * 100 + str(i).encode() for i in range(50)])
    msg = tm.message(annotations(None, tm.FALLBACK_TO_LOGS), str(log), 1, "Error")
    assert len(msg.encode()) == tm.MAX_LOG_BYTES and msg.endswith("x49\n")


def test_fallback_joins_partial_lines(tmp_path: Path) -> None:
    log = tmp_path / "0.log"
    with log.open("wb") as f:
        f.write(logs.format_entry(logs.STDERR, logs.PARTIAL, b"half "))
        f.write(logs.format_entry(logs.STDERR, logs.FULL, b"line"))
    msg = tm.message(annotations(None, tm.FALLBACK_TO_LOGS), str(log), 1, "Error")
    assert msg == "half line\n"


def test_fallback_only_on_failure_and_when_the_file_is_empty(tmp_path: Path) -> None:
    log = tmp_path / "0.log"
    write_log(log, [b"output"])
    f = tm.create_file(tmp_path, "c", 0)
    ann = annotations(f, tm.FALLBACK_TO_LOGS)
    assert tm.message(ann, str(log), 0, "Completed") == ""
    assert tm.message(ann, str(log), 1, "ContainerCannotRun") == ""
    f.write_text("from the file")
    assert tm.message(ann, str(log), 1, "Error") == "from the file"


def test_missing_files_give_no_message(tmp_path: Path) -> None:
    ann = annotations(tmp_path / "gone", tm.FALLBACK_TO_LOGS)
    assert tm.message(ann, str(tmp_path / "no.log"), 1, "Error") == ""
