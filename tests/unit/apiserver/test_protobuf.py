from __future__ import annotations

import base64

import pytest
from google.protobuf import message_factory

from pyk8s.api import errors
from pyk8s.apiserver import protobuf


@pytest.fixture(scope="module")
def codec() -> protobuf.Codec:
    c = protobuf.Codec.load()
    if c is None:
        pytest.skip(f"protobuf descriptors not built ({protobuf.default_path()}): make protos")
    return c


def _msg(codec: protobuf.Codec, full_name: str) -> type:
    return message_factory.GetMessageClass(codec.pool.FindMessageTypeByName(full_name))


def envelope(codec: protobuf.Codec, api_version: str, kind: str, raw: bytes) -> bytes:
    unknown = codec.unknown()
    unknown.typeMeta.apiVersion = api_version
    unknown.typeMeta.kind = kind
    unknown.raw = raw
    return protobuf.MAGIC + unknown.SerializeToString()


def test_configmap_as_go_writes_it(codec: protobuf.Codec) -> None:
    cm = _msg(codec, "k8s.io.api.core.v1.ConfigMap")()
    cm.metadata.name = "c"
    cm.metadata.generateName = ""  # Go writes empty optional fields
    cm.metadata.generation = 0
    cm.metadata.creationTimestamp.SetInParent()
    cm.data["a"] = ""
    cm.binaryData["b"] = b"\x00\x01"
    got = codec.decode(envelope(codec, "v1", "ConfigMap", cm.SerializeToString()))
    assert got == {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "c"},
        "data": {"a": ""},
        "binaryData": {"b": base64.b64encode(b"\x00\x01").decode()},
    }


def test_special_types(codec: protobuf.Codec) -> None:
    d = _msg(codec, "k8s.io.api.apps.v1.Deployment")()
    d.metadata.name = "web"
    d.metadata.creationTimestamp.seconds = 1_700_000_000
    d.spec.replicas = 0  # a pointer in Go: zero is kept
    d.spec.strategy.rollingUpdate.maxSurge.type = 1
    d.spec.strategy.rollingUpdate.maxSurge.strVal = "25%"
    d.spec.strategy.rollingUpdate.maxUnavailable.intVal = 1
    c = d.spec.template.spec.containers.add()
    c.name = "c"
    c.resources.limits["memory"].string = "64Mi"
    port = c.ports.add()
    port.containerPort = 80
    port.hostPort = 0
    got = codec.decode(envelope(codec, "apps/v1", "Deployment", d.SerializeToString()))
    assert got["metadata"] == {"name": "web", "creationTimestamp": "2023-11-14T22:13:20Z"}
    assert got["spec"]["replicas"] == 0
    assert got["spec"]["strategy"]["rollingUpdate"] == {"maxSurge": "25%", "maxUnavailable": 1}
    container = got["spec"]["template"]["spec"]["containers"][0]
    assert container == {
        "name": "c",
        "resources": {"limits": {"memory": "64Mi"}},
        "ports": [{"containerPort": 80}],
    }


def test_bad_bodies(codec: protobuf.Codec) -> None:
    with pytest.raises(errors.UnsupportedMediaType):
        codec.decode(b"not the magic")
    with pytest.raises(errors.UnsupportedMediaType, match="no protobuf message"):
        codec.decode(envelope(codec, "example.com/v1", "Widget", b""))
    with pytest.raises(errors.UnsupportedMediaType, match="envelope"):
        codec.decode(protobuf.MAGIC + b"\xff\xff\xff")


@pytest.mark.parametrize(
    ("nanos", "want"),
    [
        (0, "0s"),
        (1_500_000_000, "1.5s"),
        (300_000_000, "300ms"),
        (3_600_000_000_000, "1h0m0s"),
        (90_000_000_000, "1m30s"),
        (-2_000_000_000, "-2s"),
    ],
)
def test_go_duration(nanos: int, want: str) -> None:
    assert protobuf.go_duration(nanos) == want


def test_inline_structs_are_flattened(codec: protobuf.Codec) -> None:
    """Go's ``json:",inline"`` embedded structs: JSON has their fields in the parent."""
    pod = _msg(codec, "k8s.io.api.core.v1.Pod")()
    pod.metadata.name = "p"
    vol = pod.spec.volumes.add()
    vol.name = "host-root"
    vol.volumeSource.hostPath.path = "/"
    c = pod.spec.containers.add()
    c.name = "c"
    c.readinessProbe.handler.exec.command.append("true")
    ref = c.env.add()
    ref.name = "E"
    ref.valueFrom.configMapKeyRef.localObjectReference.name = "cm"
    ref.valueFrom.configMapKeyRef.key = "k"
    got = codec.decode(envelope(codec, "v1", "Pod", pod.SerializeToString()))
    assert got["spec"]["volumes"] == [{"name": "host-root", "hostPath": {"path": "/"}}]
    container = got["spec"]["containers"][0]
    assert container["readinessProbe"] == {"exec": {"command": ["true"]}}
    assert container["env"][0]["valueFrom"] == {"configMapKeyRef": {"name": "cm", "key": "k"}}
