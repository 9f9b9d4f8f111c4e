from __future__ import annotations

import pytest

from pyk8s.kubelet.runtime import interface as cri
from pyk8s.kubelet.runtime import oci_spec

SANDBOX = cri.PodSandboxConfig(metadata=cri.PodSandboxMetadata("web-0", "uid", "default"))
PATHS = oci_spec.SandboxPaths(
    netns="/run/netns/n",
    ipc="/r/ipc",
    uts="/r/uts",
    hosts="/s/hosts",
    resolv_conf="/s/resolv.conf",
    hostname="/s/hostname",
    shm="/r/shm",
)


def container(**kw: object) -> cri.ContainerConfig:
    return cri.ContainerConfig(
        metadata=cri.ContainerMetadata("c"),
        layers=("/l",),
        command=("sh",),
        args=("-c", "x"),
        **kw,  # type: ignore[arg-type]
    )


def build(c: cri.ContainerConfig, sb: cri.PodSandboxConfig = SANDBOX) -> dict:
    return oci_spec.build(c, sb, PATHS, rootfs="/rootfs", cgroups_path="/p/s/c")


def test_defaults() -> None:
    spec = build(container(envs=(("A", "1"),)))
    p = spec["process"]
    assert p["args"] == ["sh", "-c", "x"]
    assert p["env"] == ["A=1", f"PATH={oci_spec.DEFAULT_PATH}", "HOSTNAME=web-0"]
    assert p["cwd"] == "/"
    assert p["user"] == {"uid": 0, "gid": 0}
    assert p["capabilities"]["bounding"] == list(oci_spec.DEFAULT_CAPABILITIES)
    assert spec["hostname"] == "web-0"
    assert spec["root"] == {"path": "/rootfs", "readonly": False}
    ns = {n["type"]: n.get("path") for n in spec["linux"]["namespaces"]}
    assert ns == {
        "mount": None,
        "pid": None,
        "network": "/run/netns/n",
        "uts": "/r/uts",
        "ipc": "/r/ipc",
    }
    dests = [m["destination"] for m in spec["mounts"]]
    assert dests[-3:] == ["/etc/hosts", "/etc/resolv.conf", "/etc/hostname"]
    assert spec["linux"]["resources"] == {"devices": [{"allow": False, "access": "rwm"}]}
    assert "/proc/kcore" in spec["linux"]["maskedPaths"]


def test_host_namespaces_and_no_hostname() -> None:
    sb = cri.PodSandboxConfig(
        metadata=SANDBOX.metadata, host_network=True, host_ipc=True, host_pid=True
    )
    spec = build(container(), sb)
    assert [n["type"] for n in spec["linux"]["namespaces"]] == ["mount"]
    assert "hostname" not in spec


def test_resources_user_and_mounts() -> None:
    spec = build(
        container(
            resources=cri.Resources(
                cpu_quota=50_000, cpu_shares=512, memory_limit_in_bytes=1 << 20
            ),
            security=cri.SecurityContext(
                run_as_user=1000,
                run_as_group=2000,
                supplemental_groups=(3,),
                readonly_rootfs=True,
                no_new_privs=True,
            ),
            mounts=(
                cri.Mount("/data", "/host/data", readonly=True),
                cri.Mount("/etc/hosts", "/mine"),
            ),
            working_dir="/w",
        )
    )
    assert spec["linux"]["resources"]["cpu"] == {"shares": 512, "quota": 50_000, "period": 100_000}
    assert spec["linux"]["resources"]["memory"] == {"limit": 1 << 20}
    assert spec["process"]["user"] == {"uid": 1000, "gid": 2000, "additionalGids": [3]}
    assert spec["process"]["noNewPrivileges"] is True
    assert spec["process"]["cwd"] == "/w"
    assert spec["root"]["readonly"] is True
    binds = {m["destination"]: m for m in spec["mounts"] if m["type"] == "bind"}
    assert binds["/data"]["options"] == ["rbind", "rprivate", "ro"]
    assert binds["/etc/hosts"]["source"] == "/mine"  # the user's mount wins


@pytest.mark.parametrize(
    ("sec", "host", "expected"),
    [
        pytest.param(
            cri.SecurityContext(capabilities=cri.Capabilities(drop=("ALL",), add=("net_admin",))),
            None,
            ["CAP_NET_ADMIN"],
            id="drop-all-add-one",
        ),
        pytest.param(
            cri.SecurityContext(capabilities=cri.Capabilities(drop=("CHOWN", "KILL"))),
            None,
            [c for c in oci_spec.DEFAULT_CAPABILITIES if c not in ("CAP_CHOWN", "CAP_KILL")],
            id="drop-some",
        ),
        pytest.param(
            cri.SecurityContext(privileged=True),
            frozenset({"CAP_CHOWN", "CAP_BPF"}),
            ["CAP_CHOWN", "CAP_BPF"],
            id="privileged-is-host-bounding-set",
        ),
    ],
)
def test_capabilities(
    sec: cri.SecurityContext, host: frozenset[str] | None, expected: list[str]
) -> None:
    assert oci_spec.capabilities(container(security=sec), host) == expected


def test_bounding_set_from_mask() -> None:
    assert oci_spec.bounding_set("0000000000000003") == {"CAP_CHOWN", "CAP_DAC_OVERRIDE"}
    assert len(oci_spec.bounding_set("000001ffffffffff")) == 41


def test_no_command_is_an_error() -> None:
    with pytest.raises(ValueError, match="no command"):
        oci_spec.build(
            cri.ContainerConfig(metadata=cri.ContainerMetadata("c"), layers=("/l",)),
            SANDBOX,
            PATHS,
            rootfs="/r",
            cgroups_path="/c",
        )


def test_shared_pid_namespace_is_joined() -> None:
    paths = oci_spec.SandboxPaths(netns="/n", ipc="/i", uts="/u", pid="/r/pid")
    spec = oci_spec.build(container(), SANDBOX, paths, rootfs="/r", cgroups_path="/c")
    assert {"type": "pid", "path": "/r/pid"} in spec["linux"]["namespaces"]
