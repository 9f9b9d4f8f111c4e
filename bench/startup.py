"""Server start-up time (issue 12: a fresh server per conformance function must start in
about a second), ours beside the reference kube-apiserver in one run.

- ``pyk8s server --disable-agent`` with a fresh data dir (PKI made on the spot, empty SQLite,
  bootstrap objects written), and restarted on that data dir; from the process' spawn to the
  first 200 from ``/readyz``: wall seconds and the CPU seconds the process used until then
  (CPU is what the machine's load does not change).
- the reference: kube-apiserver v1.20.2 restarted on its running etcd (the cluster of
  ``bench/reference/start-ref-cluster.sh``; its command line is reused), spawn to ``/readyz``
  200. Run only when the reference binaries are cached (``hack/build-reference.sh``).

Writes ``bench/results/startup.json`` and the ``startup`` section of ``bench/RESULTS.md``.
Run: ``.venv/bin/python bench/startup.py [--rounds N]``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

import refcluster  # noqa: E402


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _ready(port: int) -> bool:
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    try:
        with urllib.request.urlopen(
            f"https://127.0.0.1:{port}/readyz", context=ctx, timeout=2
        ) as r:
            return int(r.status) == 200
    except (urllib.error.URLError, OSError):
        return False


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _time_to_ready(
    cmd: list[str], port: int, log: Path, timeout: float = 120, cwd: Path | None = None
) -> tuple[float, float]:
    """Spawn ``cmd``, poll ``/readyz`` every 10 ms; (wall s, CPU s) at the first 200; stop it."""
    with log.open("ab") as out:
        t0 = time.monotonic()
        proc = subprocess.Popen(
            cmd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True, cwd=cwd
        )
    try:
        while not _ready(port):
            if proc.poll() is not None:
                raise RuntimeError(f"{cmd[0]} exited with {proc.returncode}; see {log}")
            if time.monotonic() - t0 > timeout:
                raise RuntimeError(f"{cmd[0]} not ready after {timeout}s; see {log}")
            time.sleep(0.01)
        wall = time.monotonic() - t0
        cpu = _cpu_seconds(proc.pid)
        return wall, cpu
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def pyk8s_rounds(
    tmp: Path, rounds: int, tree: Path | None = None
) -> dict[str, list[tuple[float, float]]]:
    """``tree``: another checkout's ``pyk8s`` package (run from there, ``-m`` finds it first)."""
    out: dict[str, list[tuple[float, float]]] = {"fresh": [], "restart": []}
    for i in range(rounds):
        data = tmp / f"pyk8s-{i}"
        port = _free_port()
        cmd = [
            sys.executable, "-m", "pyk8s", "server", "--data-dir", str(data),
            "--https-port", str(port), "--bind-address", "127.0.0.1", "--disable-agent",
        ]  # fmt: skip
        out["fresh"].append(_time_to_ready(cmd, port, tmp / f"pyk8s-{i}.log", cwd=tree))
        out["restart"].append(_time_to_ready(cmd, port, tmp / f"pyk8s-{i}.log", cwd=tree))
        shutil.rmtree(data, ignore_errors=True)
    return out


def reference_rounds(tmp: Path, rounds: int) -> list[tuple[float, float]] | None:
    """Restart the reference kube-apiserver on its etcd ``rounds`` times."""
    if refcluster.binaries() is None:
        return None
    with refcluster.cluster(tmp / "ref", REF_KCM="0"):
        pids = (tmp / "ref" / "pids").read_text().split("\n")
        line = next(x for x in pids if x.startswith("kube-apiserver "))
        pid = int(line.split()[1])
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes().rstrip(b"\0").decode().split("\0")
        port = int(next(a for a in cmd if a.startswith("--secure-port=")).split("=", 1)[1])
        os.kill(pid, signal.SIGTERM)
        for _ in range(200):
            if not Path(f"/proc/{pid}").exists():
                break
            time.sleep(0.05)
        return [_time_to_ready(cmd, port, tmp / "ref-apiserver.log") for _ in range(rounds)]


def _median(xs: list[tuple[float, float]], k: int) -> float:
    return statistics.median(x[k] for x in xs)


def report(
    ours: dict[str, list[tuple[float, float]]],
    ref: list[tuple[float, float]] | None,
    load: float,
    before: dict[str, list[tuple[float, float]]] | None = None,
    before_label: str = "",
) -> None:
    flat: dict[str, Any] = {
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cpus, "
        f"Python {platform.python_version()}",
        "load_average": round(load, 1),
        "rounds": len(ours["fresh"]),
    }
    for label, xs in ours.items():
        flat[f"pyk8s_{label}_wall_s"] = round(_median(xs, 0), 3)
        flat[f"pyk8s_{label}_cpu_s"] = round(_median(xs, 1), 3)
    for label, xs in (before or {}).items():
        flat[f"before_{label}_wall_s"] = round(_median(xs, 0), 3)
        flat[f"before_{label}_cpu_s"] = round(_median(xs, 1), 3)
    if before_label:
        flat["before"] = before_label
    if ref:
        flat["ref_restart_wall_s"] = round(_median(ref, 0), 3)
        flat["ref_restart_cpu_s"] = round(_median(ref, 1), 3)
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "startup.json").write_text(json.dumps(flat, indent=2) + "\n")
    lines = [
        "## startup: spawn to the first 200 from /readyz (issue 12)",
        "",
        f"{flat['machine']}; median of {flat['rounds']} rounds; `bench/startup.py`. Load average "
        f"at start: {load:.1f} (shared machine: wall time follows the load, CPU time much less).",
        "",
        "| server | start | wall s | CPU s | ratio to the reference (wall) |",
        "| --- | --- | ---: | ---: | ---: |",
    ]
    ref_wall = flat.get("ref_restart_wall_s")
    for label, what in (("fresh", "fresh data dir (PKI made)"), ("restart", "same data dir")):
        w, c = flat[f"pyk8s_{label}_wall_s"], flat[f"pyk8s_{label}_cpu_s"]
        ratio = f"{ref_wall / w:.2f}x" if ref_wall else ""
        lines.append(f"| `pyk8s server --disable-agent` | {what} | {w:.2f} | {c:.2f} | {ratio} |")
        if f"before_{label}_wall_s" in flat:
            w, c = flat[f"before_{label}_wall_s"], flat[f"before_{label}_cpu_s"]
            ratio = f"{ref_wall / w:.2f}x" if ref_wall else ""
            lines.append(f"| same, {before_label} | {what} | {w:.2f} | {c:.2f} | {ratio} |")
    if ref_wall:
        lines.append(
            f"| kube-apiserver v1.20.2 (etcd running) | restart | {ref_wall:.2f} "
            f"| {flat['ref_restart_cpu_s']:.2f} | 1.00x |"
        )
    else:
        lines.append("| kube-apiserver v1.20.2 | not run (not built: `make reference`) | | | |")
    lines.append("")
    section = "\n".join(lines)
    print(section)
    md = HERE / "RESULTS.md"
    text = md.read_text() if md.exists() else "# Benchmark results\n\n"
    start = text.find("## startup:")
    if start >= 0:
        end = text.find("\n## ", start + 1)
        text = text[:start] + section + (text[end:] if end >= 0 else "")
    else:
        text = text.rstrip("\n") + "\n\n" + section
    md.write_text(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--no-reference", action="store_true")
    parser.add_argument(
        "--before", type=Path, help="a directory holding an older pyk8s package, measured too"
    )
    parser.add_argument("--before-label", default="before", help="its name in the table")
    args = parser.parse_args()
    load = os.getloadavg()[0]
    tmp = Path(tempfile.mkdtemp(prefix="pyk8s-bench-startup-"))
    try:
        ours = pyk8s_rounds(tmp, args.rounds)
        before = pyk8s_rounds(tmp, args.rounds, args.before) if args.before else None
        ref = None if args.no_reference else reference_rounds(tmp, args.rounds)
    except BaseException:
        print(f"logs kept in {tmp}", file=sys.stderr)
        raise
    shutil.rmtree(tmp, ignore_errors=True)
    report(ours, ref, load, before, args.before_label if args.before else "")


if __name__ == "__main__":
    main()
