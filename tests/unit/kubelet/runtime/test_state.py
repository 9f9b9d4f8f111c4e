from __future__ import annotations

from pyk8s.kubelet.runtime import interface as cri
from pyk8s.kubelet.runtime import naming, state


def test_records_roundtrip(tmp_path) -> None:
    sb = cri.PodSandboxConfig(
        metadata=cri.PodSandboxMetadata("p", "u", "ns", 1),
        dns=cri.DNSConfig(("1.1.1.1",), ("a",), ("ndots:5",)),
        host_aliases=(cri.HostAlias("1.2.3.4", ("x", "y")),),
        labels={"a": "b"},
    )
    rec = state.SandboxRecord("id", sb, 5, True, ("10.0.0.1",))
    state.save(tmp_path / "s.json", rec)
    assert state.load(tmp_path / "s.json", state.SandboxRecord) == rec
    c = cri.ContainerConfig(
        metadata=cri.ContainerMetadata("c", 2),
        layers=("/a", "/b"),
        envs=(("K", "V"),),
        mounts=(cri.Mount("/d", "/h", True),),
        resources=cri.Resources(memory_limit_in_bytes=5),
        security=cri.SecurityContext(run_as_user=0, capabilities=cri.Capabilities(add=("X",))),
    )
    crec = state.ContainerRecord("cid", "id", c, 1, "/log", "/cg", 3)
    state.save(tmp_path / "c.json", crec)
    assert state.load(tmp_path / "c.json", state.ContainerRecord) == crec


def test_prefix_depends_only_on_the_data_dir() -> None:
    a = naming.Naming.for_data_dir("/var/lib/pyk8s")
    assert a.prefix == naming.prefix_for("/var/lib/pyk8s/")
    assert a.prefix != naming.prefix_for("/var/lib/pyk8s2")
    assert a.prefix.startswith("pyk8s-") and len(a.prefix) == 14
    assert a.new_id().startswith(a.prefix + "-")
    assert a.runc_root == naming.RUN_ROOT / a.prefix / "runc"
