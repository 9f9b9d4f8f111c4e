"""Streaming (issue 10) against a real ``pyk8s server`` (API server and kubelet on runc).

1. exec round trips per second: ``true`` in a running busybox pod, one after another,
   through the ``kubernetes`` Python client's ``stream()`` (WebSocket v5 through the API
   server to the kubelet) and through ``kubectl exec`` (a process per call, as a person or a
   script uses it); the floor is ``runc exec`` of the same container directly.
2. port-forward throughput: a 100 MB file downloaded by curl from nginx in a pod through
   ``kubectl port-forward`` (SPDY in WebSocket, kubectl 1.33 default, and plain SPDY),
   beside the same download from the pod IP in the same run (target >= 0.3x of direct).

Needs root, runc, curl, ``kubectl.1.33`` and the bootstrapped busybox and nginx images (the
image tests' cache, else they are bootstrapped here, which is slow). Writes
``bench/results/streaming.json`` and the ``streaming`` section of ``bench/RESULTS.md``.
Run: ``.venv/bin/python bench/streaming.py``.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import yaml  # noqa: E402

from pyk8s.images import archive, bootstrap  # noqa: E402
from pyk8s.images import store as store_mod  # noqa: E402
from pyk8s.kubelet.runtime import naming  # noqa: E402

SIZE_MB = 100
NOTES = (
    "A port-forwarded byte goes nginx → the pod's socket → kubelet → API server → (TLS) "
    "kubectl → curl. In `pyk8s server` the kubelet shares the API server's process and is "
    "reached through an in-memory connection (`pyk8s.client.httpstream.inprocess`); a kubelet "
    "on another node is reached over TLS. The kubelet reads the pod's socket in a thread of its "
    "own (1 MiB `recv`s, which nginx fills, straight into the bytes handed on) and sends each as "
    "one SPDY data frame; the relays hand a frame and its header on together. Towards kubectl "
    "the upgraded connection's TLS records go from OpenSSL straight into the socket "
    "(`pyk8s.client.httpstream.tlssocket`: a socket BIO while the stream lasts, whole records, "
    "corked per batch) instead of through the event loop's memory BIO (a zero-fill and two "
    "copies per byte), and the client's cipher-suite order is used, so Go's AES-128-GCM as "
    "with kube-apiserver (OpenSSL's own order had picked AES-256-GCM). Each step measured "
    "2026-11-23 in interleaved A/B runs, CPU s per 100 MB: AES-128-GCM, kubectl 0.24 → 0.20 "
    "(360 → 401 MB/s); 1 MiB recvs, server 0.20 → 0.17; the socket BIO, server 0.20 → 0.175 "
    "(load 5); corking, kubectl 0.19-0.20 → 0.18 and server 0.17 → 0.16 (423-452 → 468-482 "
    "MB/s at load 2.5). What is left in the server per byte is the pod socket's `recv`, AES-GCM "
    "with OpenSSL's copy of the plaintext into its record buffer, and the loopback send to "
    "kubectl (which also pays for kubectl's TCP receive); Python's share is a few hundred "
    "microseconds per MiB. kubectl spends as much CPU per byte as the whole server (AES-GCM, "
    "its SPDY frames allocated, zeroed and copied twice, Go's garbage collector, 32 KiB writes "
    "to curl), so the forwarded download is CPU-bound on the two cores: server, kubectl, curl "
    "and nginx need about 0.40-0.45 CPU s per 100 MB, while the direct download (curl and the "
    "bridge, about 0.1 CPU s) reads 1100-3400 MB/s from one download to the next on this "
    "machine. Two runs on a quiet machine at 30d756c (load 0.8-1.2, 7 rounds each): 456 and "
    "497 MB/s (SPDY in WebSocket), 496 and 437 (plain SPDY), against 1944 and 2473 MB/s "
    "direct: 0.18-0.26x (last session 351-360 against 1576, 0.22-0.23x). The 0.3x target is "
    "not met, and on this 2-core machine it cannot be: kubectl, curl and nginx alone take about "
    "0.25 CPU s per 100 MB, so 0.3x of a 1.9-2.5 GB/s direct download (580-740 MB/s) would "
    "leave the server 0.02-0.09 s for work whose kernel copies and AES-GCM alone cost about "
    "0.10 s (the pod socket's recv, AES-GCM at the 1.8-2.6 GB/s `openssl speed` reads here, "
    "the send to kubectl)."
)
EXEC_CALLS = 50
KUBECTL_CALLS = 20
ROUNDS = 7


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def image_tar(name: str, tmp: Path) -> Path:
    base = Path(os.environ.get("PYK8S_TEST_IMAGE_CACHE") or "/var/cache/pyk8s-test-images")
    cached = base / "v1" / f"{name}.tar"
    if cached.exists():
        return cached
    store = store_mod.Store(tmp / "bootstrap-store")
    image = bootstrap.bootstrap(store, name, lambda line: None)
    out = tmp / f"{name}.tar"
    archive.export_archive(store, list(store.resolve(image.target).names), out)
    return out


def kubectl_path() -> str:
    found = shutil.which("kubectl")
    if found:
        candidate = Path(os.path.realpath(found)).parent / "kubectl.1.33"
        if candidate.exists():
            return str(candidate)
    return shutil.which("kubectl.1.33") or found or "kubectl"


class Cluster:
    def __init__(self, data: Path) -> None:
        self.data = data
        self.kubeconfig = data / "kubeconfig.yaml"
        self.kubectl_bin = kubectl_path()
        self.pid = 0  # the pyk8s server's

    def kubectl(self, *args: str, input: str | None = None) -> str:
        res = subprocess.run(
            [self.kubectl_bin, "--kubeconfig", str(self.kubeconfig), *args],
            capture_output=True, text=True, input=input, timeout=120, check=False,
        )  # fmt: skip
        if res.returncode != 0:
            raise RuntimeError(f"kubectl {' '.join(args)}: {res.stderr}")
        return res.stdout

    def pod(self, name: str) -> dict[str, Any]:
        out: dict[str, Any] = json.loads(self.kubectl("get", "pod", name, "-o", "json"))
        return out

    def wait_running(self, name: str, timeout: float = 120) -> dict[str, Any]:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            with contextlib.suppress(RuntimeError):
                pod = self.pod(name)
                statuses = pod["status"].get("containerStatuses") or []
                if statuses and all(s.get("ready") for s in statuses):
                    return pod
            time.sleep(0.5)
        raise RuntimeError(f"{name} did not become ready")


def _start(data: Path, log: IO[bytes]) -> subprocess.Popen[bytes]:
    """``pyk8s server`` on address ranges picked at random, again while another cluster on
    this machine (a test's) holds them."""
    for _attempt in range(5):
        octet = random.randrange(100, 250, 2)
        nodeports = 36000 + random.randrange(0, 40) * 100
        proc = subprocess.Popen(
            [sys.executable, "-m", "pyk8s", "server", "--data-dir", str(data), "--https-port",
             str(_free_port()), "--bind-address", "127.0.0.1", "--kubelet-port",
             str(_free_port()), "--cluster-dns-port", str(_free_port()), "--cluster-cidr",
             f"10.{octet}.0.0/16", "--service-cidr", f"10.{octet + 1}.0.0/16",
             "--service-node-port-range", f"{nodeports}-{nodeports + 99}"],
            stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(5)
        if proc.poll() is None or "clash with what is running here" not in (
            (data / "server.log").read_text()
        ):
            return proc
    raise RuntimeError("no free address ranges for the benchmark's cluster")


@contextlib.contextmanager
def server(data: Path) -> Iterator[Cluster]:
    log = (data / "server.log").open("ab")
    proc = _start(data, log)
    try:
        c = Cluster(data)
        c.pid = proc.pid
        end = time.monotonic() + 90
        while True:
            if proc.poll() is not None or time.monotonic() > end:
                raise RuntimeError(f"pyk8s server did not start; see {data / 'server.log'}")
            if c.kubeconfig.exists():
                with contextlib.suppress(RuntimeError):
                    nodes = json.loads(c.kubectl("get", "nodes", "-o", "json"))["items"]
                    conds = [x for n in nodes for x in n["status"].get("conditions") or []]
                    if any(x["type"] == "Ready" and x["status"] == "True" for x in conds):
                        break
            time.sleep(0.5)
        yield c
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        # the CLI's killall: containers, mounts and also the proxy's iptables chains
        subprocess.run(
            [sys.executable, "-m", "pyk8s", "killall", "--data-dir", str(data)],
            capture_output=True,
            check=False,
        )


def _pods() -> list[dict[str, Any]]:
    # Debian's nginx serves /var/www/html, the upstream image /usr/share/nginx/html
    big = (f"for d in /var/www/html /usr/share/nginx/html; do [ -d $d ] && "
           f"head -c {SIZE_MB * 1024 * 1024} /dev/urandom > $d/big; done; true")  # fmt: skip
    return [
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "shell"},
         "spec": {"terminationGracePeriodSeconds": 1, "containers": [
             {"name": "sh", "image": "busybox", "command": ["sleep", "3600"]}]}},
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web"},
         "spec": {"terminationGracePeriodSeconds": 1, "containers": [
             {"name": "nginx", "image": "nginx",
              "command": ["sh", "-c", f"{big} && exec nginx -g 'daemon off;'"],
              "readinessProbe": {"httpGet": {"path": "/", "port": 80},
                                 "periodSeconds": 1}}]}},
    ]  # fmt: skip


def measure_exec(c: Cluster, data: Path) -> dict[str, float]:
    from kubernetes import client, config
    from kubernetes.stream import stream

    api = client.CoreV1Api(config.new_client_from_config(str(c.kubeconfig)))

    def call() -> None:
        out = stream(api.connect_get_namespaced_pod_exec, "shell", "default", command=["true"],
                     stderr=True, stdout=True, stdin=False, tty=False)  # fmt: skip
        assert out == ""

    call()
    t = time.monotonic()
    for _ in range(EXEC_CALLS):
        call()
    python_rate = EXEC_CALLS / (time.monotonic() - t)
    c.kubectl("exec", "shell", "--", "true")
    t = time.monotonic()
    for _ in range(KUBECTL_CALLS):
        c.kubectl("exec", "shell", "--", "true")
    kubectl_rate = KUBECTL_CALLS / (time.monotonic() - t)
    cid = c.pod("shell")["status"]["containerStatuses"][0]["containerID"].split("://", 1)[1]
    root = naming.Naming.for_data_dir(data).runc_root
    t = time.monotonic()
    for _ in range(EXEC_CALLS):
        subprocess.run(["runc", "--root", str(root), "exec", cid, "true"], check=True)
    runc_rate = EXEC_CALLS / (time.monotonic() - t)
    return {"python_client_per_s": python_rate, "kubectl_per_s": kubectl_rate,
            "runc_exec_per_s": runc_rate}  # fmt: skip


def _cpu_seconds(pid: int) -> float:
    """User and system time of a process so far, all its threads."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _curl(url: str, pids: dict[str, int] | None = None) -> tuple[float, dict[str, float]]:
    """MB/s of one download of ``url`` to /dev/null, and the CPU seconds ``pids`` spent on it
    per 100 MB (beside MB/s, a figure the machine's other load hardly moves)."""
    pids = pids or {}
    before = {k: _cpu_seconds(p) for k, p in pids.items()}
    out = subprocess.run(
        ["curl", "-sS", "-o", "/dev/null", "-w", "%{size_download} %{time_total}", url],
        capture_output=True, text=True, timeout=300, check=True,
    ).stdout.split()  # fmt: skip
    size, seconds = int(out[0]), float(out[1])
    assert size == SIZE_MB * 1024 * 1024, f"downloaded {size} bytes"
    cpu = {k: (_cpu_seconds(p) - before[k]) * 100 / SIZE_MB for k, p in pids.items()}
    return size / 2**20 / seconds, cpu


@contextlib.contextmanager
def forwarding(c: Cluster, env: dict[str, str]) -> Iterator[tuple[int, int]]:
    proc = subprocess.Popen(
        [c.kubectl_bin, "--kubeconfig", str(c.kubeconfig), "port-forward", "pod/web", ":80",
         "--address", "127.0.0.1"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env={**os.environ, **env},
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        m = re.match(r"Forwarding from 127\.0\.0\.1:(\d+)", proc.stdout.readline())
        assert m, "kubectl port-forward did not start"
        yield int(m.group(1)), proc.pid
    finally:
        proc.terminate()
        proc.wait(10)


def measure_port_forward(c: Cluster) -> dict[str, Any]:
    ip = c.pod("web")["status"]["podIP"]
    rounds: dict[str, list[float]] = {"direct": [], "websocket_tunnel": [], "spdy": []}
    cpu: dict[str, dict[str, list[float]]] = {
        "websocket_tunnel": {"server": [], "kubectl": []}, "spdy": {"server": [], "kubectl": []},
    }  # fmt: skip
    loads: list[float] = []
    with (
        forwarding(c, {}) as (port, kubectl_ws),
        forwarding(c, {"KUBECTL_PORT_FORWARD_WEBSOCKETS": "false"}) as (sport, kubectl_spdy),
    ):
        urls = {"direct": f"http://{ip}/big", "websocket_tunnel": f"http://127.0.0.1:{port}/big",
                "spdy": f"http://127.0.0.1:{sport}/big"}  # fmt: skip
        pids = {"direct": {}, "websocket_tunnel": {"server": c.pid, "kubectl": kubectl_ws},
                "spdy": {"server": c.pid, "kubectl": kubectl_spdy}}  # fmt: skip
        for _ in range(ROUNDS):  # interleaved: the shared machine's load hits all alike
            for kind, url in urls.items():
                mb_s, spent = _curl(url, pids[kind])
                rounds[kind].append(mb_s)
                for k, v in spent.items():
                    cpu[kind][k].append(v)
            loads.append(os.getloadavg()[0])
    return {"direct_mb_s": statistics.median(rounds["direct"]),
            "websocket_tunnel_mb_s": statistics.median(rounds["websocket_tunnel"]),
            "spdy_mb_s": statistics.median(rounds["spdy"]),
            "cpu_seconds_per_100mb": {kind: {k: statistics.median(v) for k, v in per.items()}
                                      for kind, per in cpu.items()},
            "load_average_during": [min(loads), max(loads)],
            "rounds": rounds}  # fmt: skip


def write_results(execs: dict[str, float], pf: dict[str, Any], load: float | None = None) -> None:
    load = os.getloadavg()[0] if load is None else load
    out = {"machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                       "load_average": load}, "exec": execs, "port_forward": pf}  # fmt: skip
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "streaming.json").write_text(json.dumps(out, indent=2) + "\n")
    d = pf["direct_mb_s"]
    lines = [
        "## streaming: exec and port-forward (issue 10)",
        "",
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cpus (load average "
        f"{load:.1f} at the end: the machine is shared), Python {platform.python_version()}; "
        "`bench/streaming.py` against a `pyk8s server` (API server and kubelet on runc), "
        f"kubectl 1.33, medians of {ROUNDS} interleaved downloads.",
        "",
        "| measure | ours | reference | ratio | target |",
        "| --- | ---: | ---: | ---: | --- |",
        f"| exec `true`/s, Python client `stream()` vs `runc exec` | "
        f"{execs['python_client_per_s']:.1f} | {execs['runc_exec_per_s']:.1f} | "
        f"{execs['python_client_per_s'] / execs['runc_exec_per_s']:.2f}x | |",
        f"| exec `true`/s, `kubectl exec` vs `runc exec` | {execs['kubectl_per_s']:.1f} | "
        f"{execs['runc_exec_per_s']:.1f} | {execs['kubectl_per_s'] / execs['runc_exec_per_s']:.2f}x"
        " | |",
        f"| {SIZE_MB} MB download MB/s, kubectl port-forward (SPDY in WebSocket) vs pod IP | "
        f"{pf['websocket_tunnel_mb_s']:.0f} | {d:.0f} | {pf['websocket_tunnel_mb_s'] / d:.2f}x | "
        ">= 0.3x |",
        f"| {SIZE_MB} MB download MB/s, kubectl port-forward (plain SPDY) vs pod IP | "
        f"{pf['spdy_mb_s']:.0f} | {d:.0f} | {pf['spdy_mb_s'] / d:.2f}x | >= 0.3x |",
        "",
    ]
    cpu = pf.get("cpu_seconds_per_100mb")
    if cpu:
        during = pf["load_average_during"]
        lines += [
            f"CPU seconds per 100 MB forwarded (medians; load average {during[0]:.1f}-"
            f"{during[1]:.1f} during the downloads), a figure the shared machine's load moves "
            "far less than MB/s:",
            "",
            "| port-forward | `pyk8s server` (API server + kubelet) | kubectl |",
            "| --- | ---: | ---: |",
            *(
                f"| {name} | {cpu[kind]['server']:.2f} | {cpu[kind]['kubectl']:.2f} |"
                for kind, name in (
                    ("websocket_tunnel", "SPDY in WebSocket"),
                    ("spdy", "plain SPDY"),
                )
            ),
            "",
        ]
    lines += [NOTES, ""]
    section = "\n".join(lines)
    print(section)
    md = HERE / "RESULTS.md"
    text = md.read_text() if md.exists() else "# Benchmark results\n\n"
    start = text.find("## streaming:")
    if start >= 0:
        end = text.find("\n## ", start + 1)
        text = text[:start] + section + (text[end:] if end >= 0 else "")
    else:
        text = text.rstrip("\n") + "\n\n" + section
    md.write_text(text)


def main() -> None:
    if os.geteuid() != 0 or shutil.which("runc") is None or shutil.which("curl") is None:
        raise SystemExit("needs root, runc and curl")
    with tempfile.TemporaryDirectory(prefix="pyk8s-bench-streaming-") as d:
        tmp = Path(d)
        data = tmp / "pyk8s"
        (data / "images" / "import").mkdir(parents=True)
        for name in ("busybox", "nginx"):
            (data / "images" / "import" / f"{name}.tar").symlink_to(image_tar(name, tmp))
        with server(data) as c:
            c.kubectl("apply", "--validate=false", "-f", "-", input=yaml.safe_dump_all(_pods()))
            c.wait_running("shell")
            c.wait_running("web", timeout=180)
            print("exec ...", flush=True)
            execs = measure_exec(c, data)
            print("port-forward ...", flush=True)
            pf = measure_port_forward(c)
    write_results(execs, pf)


if __name__ == "__main__":
    if sys.argv[1:] == ["--rewrite"]:  # the table again from the last results, no new run
        saved = json.loads((HERE / "results" / "streaming.json").read_text())
        write_results(saved["exec"], saved["port_forward"], saved["machine"]["load_average"])
    else:
        main()
