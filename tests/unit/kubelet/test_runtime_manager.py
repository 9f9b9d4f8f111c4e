"""sync_pod over the fake runtime: steps, back-off, image and config errors, hooks."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import pytest

from pyk8s.api import errors
from pyk8s.images import service as image_service
from pyk8s.kubelet import prober, status
from pyk8s.kubelet.config import KubeletConfig
from pyk8s.kubelet.runtime import interface as cri
from pyk8s.kubelet.runtime.fake import FakeRuntime
from pyk8s.kubelet.runtime_manager import RuntimeManager, pull_policy
from pyk8s.kubelet.volumes.manager import VolumeManager


class Images:
    """The image service, with ``present`` images and pulls that fail unless ``pullable``."""

    def __init__(self, present: set[str], pullable: frozenset[str] = frozenset()) -> None:
        self.present = set(present)
        self.pullable = set(pullable)
        self.pulls: list[str] = []

    async def status(self, image: str) -> image_service.ImageInfo | None:
        return (
            image_service.ImageInfo("sha256:i", (image,), (), 1) if image in self.present else None
        )

    async def pull(self, image: str, **_: Any) -> image_service.ImageInfo:
        self.pulls.append(image)
        if image not in self.pullable:
            raise OSError("no such host")
        self.present.add(image)
        return image_service.ImageInfo("sha256:i", (image,), (), 42)

    async def runtime_image(self, image: str) -> image_service.RuntimeImage:
        return image_service.RuntimeImage(id="sha256:i", layers=(Path("/l"),), cmd=("sh",))


Event = tuple[str, str, str]


@pytest.fixture
def env(tmp_path: Path) -> tuple[RuntimeManager, FakeRuntime, Images, list[Event]]:
    rt = FakeRuntime()
    images = Images({"busybox"})
    events: list[Event] = []

    async def get(kind: str, ns: str, name: str) -> dict[str, Any]:
        raise errors.NotFound(f"{kind} {name} not found")

    cfg = KubeletConfig(data_dir=tmp_path, image_store_root=tmp_path / "images")
    probes = prober.ProberManager(rt, lambda uid: None, lambda *a: None)
    m = RuntimeManager(
        cfg, rt, cast(image_service.ImageService, images), VolumeManager(cfg.pods_dir, get),
        probes, lambda pod, t, reason, note: events.append((t, reason, note)), get,
        lambda: "10.0.0.5", lambda: {"cpu": "2", "memory": "1Gi"},
    )  # fmt: skip
    return m, rt, images, events


def pod(**spec: Any) -> dict[str, Any]:
    spec.setdefault("containers", [{"name": "c", "image": "busybox", "command": ["true"]}])
    return {"metadata": {"name": "p", "namespace": "default", "uid": "u1"}, "spec": spec}


def reasons(events: list[Event]) -> list[str]:
    return [r for _, r, _ in events]


async def test_first_sync_creates_sandbox_and_starts(env: Any) -> None:
    m, rt, _, events = env
    await m.sync_pod(pod(), status.Observed())
    names = rt.call_names()
    assert names.index("run_pod_sandbox") < names.index("create_container")
    assert names.index("create_container") < names.index("start_container")
    (sb,) = rt.sandbox_configs.values()
    assert sb.hostname == "p" and sb.labels[cri.POD_UID_LABEL] == "u1"
    (cfg,) = rt.container_configs.values()
    assert cfg.command == ("true",) and cfg.log_path == "c/0.log"
    assert reasons(events) == ["Pulled", "Created", "Started"]


async def test_init_containers_one_at_a_time(env: Any) -> None:
    m, rt, _, _ = env
    p = pod(initContainers=[{"name": "i1", "image": "busybox", "command": ["a"]},
                            {"name": "i2", "image": "busybox", "command": ["b"]}])  # fmt: skip
    await m.sync_pod(p, status.Observed())
    assert [c.metadata.name for c in rt.container_configs.values()] == ["i1"]
    rt.exit_container(next(iter(rt.containers)), 0)
    await m.sync_pod(p, status.Observed())
    assert [c.metadata.name for c in rt.container_configs.values()] == ["i1", "i2"]
    rt.exit_container(list(rt.containers)[1], 0)
    await m.sync_pod(p, status.Observed())
    assert [c.metadata.name for c in rt.container_configs.values()] == ["i1", "i2", "c"]


async def test_restart_then_crash_loop_back_off(env: Any) -> None:
    m, rt, _, events = env
    observed = status.Observed()
    await m.sync_pod(pod(), observed)
    rt.exit_container(next(iter(rt.containers)), 3)
    await m.sync_pod(pod(), observed)  # first restart: back-off starts at 10 s
    assert len(rt.containers) == 2
    assert list(rt.container_configs.values())[1].metadata.attempt == 1
    rt.exit_container(list(rt.containers)[1], 3)
    delay = await m.sync_pod(pod(), observed)
    assert len(rt.containers) == 2  # held back
    assert observed.waiting["c"][0] == "CrashLoopBackOff"
    assert observed.waiting["c"][1].startswith("back-off 10s restarting failed container=c")
    assert delay is not None and 0 < delay <= 10
    assert "BackOff" in reasons(events)


async def test_missing_image_err_image_pull_then_back_off(env: Any) -> None:
    m, _, images, events = env
    observed = status.Observed()
    p = pod(containers=[{"name": "c", "image": "example.com/nope:1"}])
    await m.sync_pod(p, observed)
    assert observed.waiting["c"][0] == "ErrImagePull"
    assert "no such host" in observed.waiting["c"][1]
    await m.sync_pod(p, observed)
    assert observed.waiting["c"][0] == "ImagePullBackOff"
    assert images.pulls == ["example.com/nope:1"]
    assert {"Pulling", "Failed", "BackOff"} <= set(reasons(events))


async def test_never_pull_policy(env: Any) -> None:
    m, _, images, _ = env
    observed = status.Observed()
    p = pod(containers=[{"name": "c", "image": "other:1", "imagePullPolicy": "Never"}])
    await m.sync_pod(p, observed)
    assert observed.waiting["c"][0] == "ErrImageNeverPull" and images.pulls == []


async def test_config_error_is_create_container_config_error(env: Any) -> None:
    m, rt, _, _ = env
    observed = status.Observed()
    env_from = [{"name": "X", "valueFrom": {"configMapKeyRef": {"name": "gone", "key": "k"}}}]
    await m.sync_pod(pod(containers=[{"name": "c", "image": "busybox", "env": env_from}]), observed)
    assert observed.waiting["c"][0] == "CreateContainerConfigError"
    assert rt.container_configs == {}


async def test_kill_pod_runs_pre_stop_within_grace(env: Any) -> None:
    m, rt, _, events = env
    hook = {"preStop": {"exec": {"command": ["sh", "-c", "echo bye"]}}}
    p = pod(containers=[{"name": "c", "image": "busybox", "lifecycle": hook}],
            terminationGracePeriodSeconds=7)  # fmt: skip
    await m.sync_pod(p, status.Observed())
    await m.kill_pod(p, None, None)
    names = rt.call_names()
    assert names.index("exec_sync") < names.index("stop_container")
    (stop,) = [args for name, args in rt.calls if name == "stop_container"]
    assert 2 <= stop[1] <= 7
    assert "Killing" in reasons(events)
    assert all(s.state == cri.SandboxState.NOTREADY for s in rt.sandboxes.values())


@pytest.mark.parametrize(
    ("image", "policy"),
    [
        pytest.param("nginx", "Always", id="no-tag"),
        pytest.param("nginx:latest", "Always", id="latest"),
        pytest.param("nginx:1.25", "IfNotPresent", id="tag"),
        pytest.param("localhost:5000/nginx", "Always", id="registry-port-no-tag"),
        pytest.param("nginx@sha256:" + "a" * 64, "IfNotPresent", id="digest"),
    ],
)
def test_default_pull_policy(image: str, policy: str) -> None:
    assert pull_policy({"image": image}) == policy


def test_sandbox_config_dns_policies(env: Any) -> None:
    m = env[0]
    m.config.cluster_dns = ("10.43.0.10",)
    sb = m.sandbox_config(pod(), 0)
    assert sb.dns == cri.DNSConfig(
        ("10.43.0.10",),
        ("default.svc.cluster.local", "svc.cluster.local", "cluster.local"),
        ("ndots:5",),
    )
    assert m.sandbox_config(pod(dnsPolicy="Default"), 0).dns is None
    host = m.sandbox_config(pod(hostNetwork=True), 0)
    assert host.host_network and host.dns is None and host.hostname == ""
    custom = m.sandbox_config(
        pod(dnsPolicy="None", dnsConfig={"nameservers": ["1.1.1.1"], "searches": ["x"],
                                         "options": [{"name": "ndots", "value": "2"}]}),
        0,
    )  # fmt: skip
    assert custom.dns == cri.DNSConfig(("1.1.1.1",), ("x",), ("ndots:2",))


def test_sandbox_config_port_mappings(env: Any) -> None:
    m = env[0]
    c = {
        "name": "c",
        "image": "nginx",
        "ports": [
            {"containerPort": 80, "hostPort": 8080, "protocol": "TCP"},
            {"containerPort": 53, "hostPort": 5353, "protocol": "UDP", "hostIP": "127.0.0.1"},
            {"containerPort": 9000},
        ],
    }
    sb = m.sandbox_config(pod(containers=[c]), 0)
    assert sb.port_mappings == (
        cri.PortMapping("TCP", 80, 8080),
        cri.PortMapping("UDP", 53, 5353, "127.0.0.1"),
    )
    assert m.sandbox_config(pod(hostNetwork=True, containers=[c]), 0).port_mappings == ()


def swap_content(path: str, new: str) -> str:
    old = Path(path).read_text()
    Path(path).write_text(new)
    return old


async def test_termination_message_file_is_mounted_and_read_on_exit(env: Any) -> None:
    m, rt, _, _ = env
    p = pod(containers=[{"name": "c", "image": "busybox", "command": ["true"],
                         "terminationMessagePath": "/dev/termination-log",
                         "terminationMessagePolicy": "File"}])  # fmt: skip
    await m.sync_pod(p, status.Observed())
    (cfg,) = rt.container_configs.values()
    (mount,) = [x for x in cfg.mounts if x.container_path == "/dev/termination-log"]
    assert swap_content(mount.host_path, "goodbye") == ""
    (cid,) = rt.containers
    before = await m.pod_status("u1")
    assert before.containers[0].message == ""  # still running: not read yet
    rt.exit_container(cid, 1)
    (c,) = (await m.pod_status("u1")).containers
    assert c.message == "goodbye"
    st = status.generate(p, await m.pod_status("u1"), status.Observed(), host_ip="h", now="t")
    assert st["containerStatuses"][0]["state"]["terminated"]["message"] == "goodbye"
