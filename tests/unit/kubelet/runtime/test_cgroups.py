"""cgroup v1 and v2 readers over a fake cgroupfs (a mountinfo file and plain directories)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pyk8s.kubelet.runtime import cgroups


def v2_host(tmp_path: Path) -> list[cgroups.Hierarchy]:
    root = tmp_path / "cgroup"
    root.mkdir()
    mountinfo = tmp_path / "mountinfo"
    mountinfo.write_text(
        "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n"
        f"36 25 0:31 / {root} rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 "
        "rw,nsdelegate,memory_recursiveprot\n"
    )
    return cgroups.hierarchies(str(mountinfo))


def v1_host(tmp_path: Path) -> list[cgroups.Hierarchy]:
    lines = ["22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw"]
    for i, ctrls in enumerate(("cpu,cpuacct", "memory", "pids", "name=systemd")):
        d = tmp_path / "cgroup" / ctrls.replace("name=", "")
        d.mkdir(parents=True)
        n = 40 + i
        lines.append(f"{n} 25 0:{n} / {d} rw,nosuid shared:{i} - cgroup cgroup rw,{ctrls}")
    unified = tmp_path / "cgroup" / "unified"
    unified.mkdir()
    lines.append(f"50 25 0:50 / {unified} rw,nosuid shared:20 - cgroup2 cgroup2 rw,nsdelegate")
    (tmp_path / "mountinfo").write_text("\n".join(lines) + "\n")
    return cgroups.hierarchies(str(tmp_path / "mountinfo"))


def write(d: Path, files: dict[str, str]) -> None:
    d.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        (d / name).write_text(content)


def test_v2_is_detected_and_read(tmp_path: Path) -> None:
    hs = v2_host(tmp_path)
    assert cgroups.is_v2(hs)
    assert [h.controllers for h in hs] == [frozenset({"unified"})]
    c = tmp_path / "cgroup" / "pyk8s" / "sb" / "ctr"
    write(c, {
        "cpu.stat": "usage_usec 1500\nuser_usec 1000\nsystem_usec 500\n",
        "memory.current": "10485760\n",
        "memory.stat": "anon 4096000\nfile 6000000\ninactive_file 2097152\npgfault 77\n"
                       "pgmajfault 3\n",
        "memory.events": "low 0\nhigh 0\nmax 2\noom 1\noom_kill 1\n",
        "pids.current": "4\n",
    })  # fmt: skip
    u = cgroups.usage("/pyk8s/sb/ctr", hs)
    assert u == cgroups.Usage(1_500_000, 10485760, 10485760 - 2097152, 4, 4096000, 77, 3)
    assert cgroups.oom_kill_count("/pyk8s/sb/ctr", hs) == 1
    assert cgroups.oom_kill_count("/pyk8s/sb/missing", hs) == 0


def test_v1_is_detected_and_read(tmp_path: Path) -> None:
    hs = v1_host(tmp_path)
    assert not cgroups.is_v2(hs)
    base = tmp_path / "cgroup"
    write(base / "cpu,cpuacct" / "pyk8s" / "c", {"cpuacct.usage": "123456789\n"})
    write(base / "memory" / "pyk8s" / "c", {
        "memory.usage_in_bytes": "8192000\n",
        "memory.stat": "cache 100\nrss 50\ntotal_rss 4096\ntotal_inactive_file 192000\n"
                       "total_pgfault 9\ntotal_pgmajfault 1\n",
        "memory.oom_control": "oom_kill_disable 0\nunder_oom 0\noom_kill 3\n",
    })  # fmt: skip
    write(base / "pids" / "pyk8s" / "c", {"pids.current": "2\n"})
    u = cgroups.usage("/pyk8s/c", hs)
    assert u == cgroups.Usage(123456789, 8192000, 8000000, 2, 4096, 9, 1)
    assert cgroups.oom_kill_count("/pyk8s/c", hs) == 3


def test_hybrid_host_does_not_read_v1_controllers_from_the_unified_mount(tmp_path: Path) -> None:
    hs = v1_host(tmp_path)
    (tmp_path / "cgroup" / "pids").rename(tmp_path / "elsewhere")  # no pids hierarchy
    hs = [h for h in hs if "pids" not in h.controllers]
    write(tmp_path / "cgroup" / "unified" / "pyk8s" / "c", {"pids.current": "9\n"})
    assert cgroups.usage("/pyk8s/c", hs).pids == 0


def test_remove_takes_the_tree_in_every_hierarchy(tmp_path: Path) -> None:
    hs = v1_host(tmp_path)
    for ctrl in ("memory", "pids"):
        (tmp_path / "cgroup" / ctrl / "pyk8s" / "sb" / "c1").mkdir(parents=True)
        (tmp_path / "cgroup" / ctrl / "pyk8s" / "sb" / "c2").mkdir(parents=True)
    cgroups.remove("/pyk8s/sb", hs=hs)
    for ctrl in ("memory", "pids"):
        assert not (tmp_path / "cgroup" / ctrl / "pyk8s" / "sb").exists()
        assert (tmp_path / "cgroup" / ctrl / "pyk8s").exists()
    cgroups.remove("/pyk8s/missing", hs=hs)  # nothing there: fine
    with pytest.raises(ValueError, match="root cgroup"):
        cgroups.remove("/", hs=hs)


def test_nested_mount_root_is_stripped(tmp_path: Path) -> None:
    h = cgroups.Hierarchy("/sys/fs/cgroup", "/kubepods/pod1", frozenset({"unified"}))
    assert h.path("/kubepods/pod1/ctr") == "/sys/fs/cgroup/ctr"
    assert h.path("/other") == "/sys/fs/cgroup/other"
