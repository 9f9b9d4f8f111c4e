from __future__ import annotations

import pytest

from pyk8s.kubelet.runtime import interface as cri
from pyk8s.kubelet.runtime.fake import FakeRuntime
from pyk8s.kubelet.runtime.runc import RuncRuntime


def test_both_runtimes_satisfy_the_protocol(tmp_path) -> None:
    _: cri.ContainerRuntime = FakeRuntime()
    __: cri.ContainerRuntime = RuncRuntime(tmp_path)
    assert isinstance(FakeRuntime(), cri.ContainerRuntime)
    assert isinstance(RuncRuntime(tmp_path), cri.ContainerRuntime)


async def test_fake_lifecycle_records_calls_and_exits() -> None:
    now = iter(range(100, 10_000, 10))
    rt = FakeRuntime(clock=lambda: next(now))
    sb = cri.PodSandboxConfig(metadata=cri.PodSandboxMetadata("p", "u", "default"))
    sid = await rt.run_pod_sandbox(sb)
    cfg = cri.ContainerConfig(metadata=cri.ContainerMetadata("c"), layers=("/l",), command=("x",))
    cid = await rt.create_container(sid, cfg, sb)
    assert (await rt.container_status(cid)).state == cri.ContainerState.CREATED
    await rt.start_container(cid)
    assert (await rt.exec_sync(cid, ["true"])).exit_code == 0
    rt.exit_container(cid, 2)
    st = await rt.container_status(cid)
    assert (st.state, st.exit_code, st.reason) == (cri.ContainerState.EXITED, 2, "Error")
    with pytest.raises(cri.ContainerRuntimeError):
        await rt.exec_sync(cid, ["true"])
    rt.errors["start_container"] = cri.ContainerRuntimeError("boom")
    cid2 = await rt.create_container(sid, cfg, sb)
    with pytest.raises(cri.ContainerRuntimeError, match="boom"):
        await rt.start_container(cid2)
    await rt.stop_pod_sandbox(sid)
    assert (await rt.pod_sandbox_status(sid)).state == cri.SandboxState.NOTREADY
    await rt.remove_pod_sandbox(sid)
    assert await rt.list_containers() == []
    with pytest.raises(cri.NotFoundError):
        await rt.container_status(cid)
    assert rt.call_names()[:3] == ["run_pod_sandbox", "create_container", "container_status"]
