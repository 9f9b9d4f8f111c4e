"""The /stats/summary shape over the fake runtime, the real /proc and a pod directory."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pyk8s.kubelet.runtime import interface as cri
from pyk8s.kubelet.runtime.fake import FakeRuntime
from pyk8s.kubelet.stats import summary

S = 1_000_000_000


async def start(rt: FakeRuntime, logs: Path, name: str, uid: str) -> str:
    sb = cri.PodSandboxConfig(cri.PodSandboxMetadata(name, uid, "default"), log_directory=str(logs))
    sid = await rt.run_pod_sandbox(sb)
    cfg = cri.ContainerConfig(cri.ContainerMetadata("app"), ("/l",), log_path="app/0.log")
    cid = await rt.create_container(sid, cfg, sb)
    await rt.start_container(cid)
    return cid


def stats(cid: str, ts: int, cpu: int) -> cri.ContainerStats:
    return cri.ContainerStats(
        cid, ts, cpu_usage_core_nanoseconds=cpu, memory_usage_bytes=30 << 20,
        memory_working_set_bytes=20 << 20, pids=3, memory_rss_bytes=10 << 20,
        writable_layer_bytes=8192, writable_layer_inodes=2,
    )  # fmt: skip


async def test_summary(tmp_path: Path) -> None:
    rt = FakeRuntime()
    cid = await start(rt, tmp_path / "logs", "web", "u1")
    pod = {"metadata": {"name": "web", "namespace": "default", "uid": "u1"},
           "status": {"startTime": "2025-01-01T00:00:00Z"}}  # fmt: skip
    empty_dir = tmp_path / "pods" / "u1" / "volumes" / "kubernetes.io~empty-dir" / "scratch"
    empty_dir.mkdir(parents=True)
    (empty_dir / "data").write_bytes(b"x" * 10000)
    log = tmp_path / "logs" / "app" / "0.log"
    log.parent.mkdir(parents=True)
    log.write_bytes(b"y" * 5000)

    async def image_fs() -> tuple[str, int]:
        return str(tmp_path), 12345

    p = summary.SummaryProvider(rt, lambda: "node1", lambda: [pod], tmp_path, tmp_path / "pods",
                                image_fs)  # fmt: skip
    rt.stats[cid] = stats(cid, 100 * S, 5 * S)
    first = await p.get()
    rt.stats[cid] = stats(cid, 102 * S, 6 * S)  # one cpu-second in two seconds
    out: dict[str, Any] = await p.get()
    node = out["node"]
    assert node["nodeName"] == "node1"
    assert node["cpu"]["usageCoreNanoSeconds"] > 0 and node["cpu"]["usageNanoCores"] >= 0
    assert "usageNanoCores" in first["node"]["cpu"]  # sampled twice on the first call
    mem = node["memory"]
    assert 0 < mem["workingSetBytes"] <= mem["usageBytes"] and mem["availableBytes"] > 0
    assert node["fs"]["capacityBytes"] >= node["fs"]["availableBytes"] > 0
    assert node["runtime"]["imageFs"]["usedBytes"] == 12345
    assert node["runtime"]["containerFs"]["usedBytes"] == 8192
    assert node["rlimit"]["maxpid"] >= node["rlimit"]["curproc"] > 0
    assert [c["name"] for c in node["systemContainers"]] == ["kubelet", "pods"]
    assert node["systemContainers"][0]["memory"]["rssBytes"] > 0
    (ps,) = out["pods"]
    assert ps["podRef"] == {"name": "web", "namespace": "default", "uid": "u1"}
    assert ps["startTime"] == "2025-01-01T00:00:00Z"
    (c,) = ps["containers"]
    assert c["name"] == "app"
    assert c["cpu"]["usageNanoCores"] == S // 2 and c["cpu"]["usageCoreNanoSeconds"] == 6 * S
    assert c["memory"]["workingSetBytes"] == 20 << 20
    assert c["rootfs"]["usedBytes"] == 8192
    assert c["logs"]["usedBytes"] >= 5000
    assert ps["cpu"]["usageNanoCores"] == S // 2
    assert ps["memory"]["usageBytes"] == 30 << 20
    (vol,) = ps["volume"]
    assert vol["name"] == "scratch" and vol["usedBytes"] >= 10000
    eph = ps["ephemeral-storage"]["usedBytes"]
    assert eph == 8192 + c["logs"]["usedBytes"] + vol["usedBytes"]
    assert ps["process_stats"] == {"process_count": 3}


async def test_exited_containers_and_unknown_pods_are_left_out(tmp_path: Path) -> None:
    rt = FakeRuntime()
    cid = await start(rt, tmp_path, "gone", "u-gone")
    other = await start(rt, tmp_path, "done", "u-done")
    rt.exit_container(other, 0)

    async def image_fs() -> tuple[str, int]:
        return str(tmp_path), 0

    done = {"metadata": {"name": "done", "namespace": "default", "uid": "u-done"}}
    p = summary.SummaryProvider(rt, lambda: "n", lambda: [done], tmp_path, tmp_path, image_fs)
    out = await p.get()
    assert out["pods"] == []  # "gone" is not a pod of ours; "done" runs nothing
    assert cid in rt.containers
