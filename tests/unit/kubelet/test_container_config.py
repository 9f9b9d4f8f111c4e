"""Container configuration from spec and image: command/args, env, security, resources."""

from __future__ import annotations

from typing import Any

import pytest

from pyk8s.api import errors
from pyk8s.images.service import RuntimeImage
from pyk8s.kubelet import container_config as cc

IMAGE = RuntimeImage(
    id="sha256:abc", layers=(), entrypoint=("/entry",), cmd=("serve", "--port=80"),
    env=("PATH=/bin", "FROM_IMAGE=1"), user="",
)  # fmt: skip


@pytest.mark.parametrize(
    ("container", "expected"),
    [
        pytest.param({}, (("/entry",), ("serve", "--port=80")), id="image-defaults"),
        pytest.param({"args": ["x"]}, (("/entry",), ("x",)), id="args-replace-cmd"),
        pytest.param({"command": ["sh"]}, (("sh",), ()), id="command-drops-cmd"),
        pytest.param(
            {"command": ["sh", "-c"], "args": ["echo $(NAME) $$(NAME) $(MISSING)"]},
            (("sh", "-c"), ("echo Ada $(NAME) $(MISSING)",)),
            id="expansion",
        ),
    ],
)
def test_command_and_args(container: dict[str, Any], expected: tuple[Any, Any]) -> None:
    assert cc.command_and_args(container, IMAGE, {"NAME": "Ada"}) == expected


async def test_environment_order_and_sources() -> None:
    objs = {
        ("ConfigMap", "ns", "cm"): {"data": {"A": "from-cm", "B": "b"}},
        ("Secret", "ns", "s"): {"data": {"PASS": "c2VjcmV0"}},
    }

    async def get(kind: str, ns: str, name: str) -> dict[str, Any]:
        try:
            return objs[(kind, ns, name)]
        except KeyError:
            raise errors.NotFound(f"{name} not found") from None

    pod = {
        "metadata": {"name": "p", "namespace": "ns", "uid": "u1", "labels": {"app": "x"}},
        "spec": {"nodeName": "n1"},
    }
    container = {
        "envFrom": [{"configMapRef": {"name": "cm"}, "prefix": "CM_"}],
        "env": [
            {"name": "GREETING", "value": "hi $(CM_A)"},
            {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
            {"name": "APP", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['app']"}}},
            {"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
            {"name": "HOST", "valueFrom": {"fieldRef": {"fieldPath": "status.hostIP"}}},
            {"name": "PASS", "valueFrom": {"secretKeyRef": {"name": "s", "key": "PASS"}}},
            {"name": "MEM", "valueFrom": {"resourceFieldRef": {"resource": "limits.memory",
                                                               "divisor": "1Mi"}}},
            {"name": "OPT", "valueFrom": {"configMapKeyRef": {"name": "cm", "key": "nope",
                                                              "optional": True}}},
        ],
        "resources": {"limits": {"memory": "64Mi"}},
    }  # fmt: skip
    env = await cc.environment(
        pod, container, IMAGE, get, host_ip="10.0.0.1", pod_ips=[], allocatable={}
    )
    assert env == [
        ("PATH", "/bin"), ("FROM_IMAGE", "1"), ("CM_A", "from-cm"), ("CM_B", "b"),
        ("GREETING", "hi from-cm"), ("POD", "p"), ("APP", "x"), ("NODE", "n1"),
        ("HOST", "10.0.0.1"), ("PASS", "secret"), ("MEM", "64"),
    ]  # fmt: skip
    missing = {"env": [{"name": "X", "valueFrom": {"configMapKeyRef": {"name": "cm", "key": "Z"}}}]}
    with pytest.raises(cc.ConfigError, match="couldn't find key Z in configmap ns/cm"):
        await cc.environment(pod, missing, IMAGE, get, host_ip="", pod_ips=[], allocatable={})
    gone = {"envFrom": [{"secretRef": {"name": "nope"}}]}
    with pytest.raises(cc.ConfigError, match='secret "nope" not found'):
        await cc.environment(pod, gone, IMAGE, get, host_ip="", pod_ips=[], allocatable={})


def test_security_context_merges_pod_and_container_and_checks_non_root() -> None:
    pod = {"spec": {"securityContext": {"runAsUser": 1000, "fsGroup": 2000}}}
    sc = cc.security(
        pod,
        {"securityContext": {"runAsGroup": 3000, "allowPrivilegeEscalation": False,
                             "capabilities": {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]},
                             "readOnlyRootFilesystem": True}},
        IMAGE,
    )  # fmt: skip
    assert (sc.run_as_user, sc.run_as_group, sc.supplemental_groups) == (1000, 3000, (2000,))
    assert sc.no_new_privs and sc.readonly_rootfs and sc.capabilities.drop == ("ALL",)
    with pytest.raises(cc.ConfigError, match="runAsNonRoot and image will run as root"):
        cc.security({"spec": {"securityContext": {"runAsNonRoot": True}}}, {}, IMAGE)
    numeric = RuntimeImage(id="x", layers=(), user="1001:1002")
    sc = cc.security({"spec": {"securityContext": {"runAsNonRoot": True}}}, {}, numeric)
    assert (sc.run_as_user, sc.run_as_group) == (1001, 1002)


def test_resources_to_cgroup_values() -> None:
    r = cc.resources({"resources": {"requests": {"cpu": "250m"},
                                    "limits": {"cpu": "500m", "memory": "128Mi"}}})  # fmt: skip
    assert (r.cpu_shares, r.cpu_quota, r.cpu_period) == (256, 50000, 100000)
    assert r.memory_limit_in_bytes == 128 * 1024 * 1024
    assert cc.resources({}).cpu_shares == cc.MIN_SHARES


def test_mounts_and_bad_subpath() -> None:
    c = {"volumeMounts": [{"name": "v", "mountPath": "/data", "subPath": "sub", "readOnly": True}]}
    (m,) = cc.mounts(c, {"v": "/host/v"}, None)
    assert (m.container_path, m.host_path, m.readonly) == ("/data", "/host/v/sub", True)
    with pytest.raises(cc.ConfigError, match="invalid subPath"):
        cc.mounts({"volumeMounts": [{"name": "v", "mountPath": "/d", "subPath": "../x"}]},
                  {"v": "/h"}, None)  # fmt: skip
    with pytest.raises(cc.ConfigError, match="cannot find volume"):
        cc.mounts({"volumeMounts": [{"name": "w", "mountPath": "/d"}]}, {}, None)
