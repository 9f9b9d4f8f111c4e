"""A container's termination message: the file it may write before exiting, or its log's tail.

Mirrors ``pkg/kubelet/kuberuntime/kuberuntime_container.go``: ``makeMounts`` (an empty file
under ``<pod dir>/containers/<name>/`` bind-mounted at ``terminationMessagePath``, mode 0666
so a non-root user can write it), ``getTerminationMessage`` (the last 4 KiB of that file) and
``readLastStringFromContainerLogs`` (with ``FallbackToLogsOnError``, an empty file and a
failed container: the last 80 lines of its log, at most their last 2 KiB). The container's
annotations carry what is needed to find it again after a kubelet restart, as upstream's
``io.kubernetes.container.terminationMessagePath`` label does.

Every function blocks (file I/O): call them from a thread.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from pyk8s.kubelet.runtime import logs as cri_logs

PATH_ANNOTATION = "io.kubernetes.container.terminationMessagePath"
POLICY_ANNOTATION = "io.kubernetes.container.terminationMessagePolicy"
FILE_ANNOTATION = "pyk8s.io/termination-message-file"  # the host side of the mount

FALLBACK_TO_LOGS = "FallbackToLogsOnError"
MAX_MESSAGE = 4 * 1024  # MaxContainerTerminationMessageLength
MAX_LOG_LINES = 80  # MaxContainerTerminationMessageLogLines
MAX_LOG_BYTES = 2 * 1024  # MaxContainerTerminationMessageLogLength
_LOG_WINDOW = 256 * 1024  # how much of the log's end is parsed to find its last lines


def create_file(pod_dir: Path, container: str, attempt: int) -> Path:
    """The empty host file for one container attempt (made anew for each restart)."""
    d = pod_dir / "containers" / container
    d.mkdir(parents=True, exist_ok=True)
    path = d / f"termination-{attempt}"
    path.write_bytes(b"")
    os.chmod(path, 0o666)
    return path


def read_tail(path: str, limit: int) -> bytes:
    """The last ``limit`` bytes of a file (``tail.ReadAtMost``); empty if it is missing."""
    try:
        with open(path, "rb") as f:
            size = f.seek(0, os.SEEK_END)
            f.seek(max(0, size - limit))
            return f.read(limit)
    except OSError:
        return b""


def log_tail(log_path: str) -> str:
    """The last lines of a CRI log file as the container wrote them, within the caps."""
    data = read_tail(log_path, _LOG_WINDOW)
    if len(data) == _LOG_WINDOW:
        data = data[data.find(b"\n") + 1 :]  # the first line is likely cut
    lines: list[bytes] = []
    pending: list[bytes] = []
    for raw in data.splitlines():
        try:
            entry = cri_logs.parse_line(raw)
        except ValueError:
            continue
        pending.append(entry.content)
        if not entry.partial:
            lines.append(b"".join(pending) + b"\n")
            pending = []
    out = b"".join(lines[-MAX_LOG_LINES:])
    return out[-MAX_LOG_BYTES:].decode(errors="replace")


def message(ann: Mapping[str, str], log_path: str, exit_code: int, reason: str) -> str:
    """The message of an exited container, from its annotations (set at creation)."""
    host_file = str(ann.get(FILE_ANNOTATION) or "")
    text = ""
    if host_file:
        text = read_tail(host_file, MAX_MESSAGE).decode(errors="replace")
    fallback = (
        ann.get(POLICY_ANNOTATION) == FALLBACK_TO_LOGS
        and exit_code != 0
        and reason != "ContainerCannotRun"
    )
    if not text and fallback and log_path:
        text = log_tail(log_path)
    return text
