"""Decoding of Kubernetes protobuf request bodies into the dicts JSON would give.

kubectl >= 1.32 sends typed objects as ``application/vnd.kubernetes.protobuf``:
the magic ``k8s\\x00`` then a ``runtime.Unknown`` (apimachinery
``pkg/runtime/generated.proto``) whose ``typeMeta`` names the message and whose
``raw`` holds it (``pkg/runtime/serializer/protobuf/protobuf.go``). The message
types come from upstream's ``generated.proto`` files, compiled at build time
into one descriptor set by ``hack/build-k8s-protos.sh`` (nothing upstream is
committed); message classes are made from it at run time.

Conversion follows the JSON forms of apimachinery's special types (``Time``,
``MicroTime``, ``Duration``, ``Quantity``, ``IntOrString``, ``RawExtension``,
``FieldsV1``) and drops the empty values Go's protobuf marshaller writes but its
JSON marshaller omits (``omitempty``), keeping zeros that mean something.
"""

from __future__ import annotations

import base64
import datetime
import os
from pathlib import Path
from typing import Any

import orjson
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import DecodeError, Message

from pyk8s.api import errors

MAGIC = b"k8s\x00"
META = "k8s.io.apimachinery.pkg.apis.meta.v1."

# Directory of k8s.io/api/<dir>/<version> -> API group.
_GROUPS = {
    "core": "",
    "apps": "apps",
    "batch": "batch",
    "autoscaling": "autoscaling",
    "policy": "policy",
    "rbac": "rbac.authorization.k8s.io",
    "networking": "networking.k8s.io",
    "storage": "storage.k8s.io",
    "coordination": "coordination.k8s.io",
    "discovery": "discovery.k8s.io",
    "events": "events.k8s.io",
    "certificates": "certificates.k8s.io",
    "scheduling": "scheduling.k8s.io",
    "node": "node.k8s.io",
    "admissionregistration": "admissionregistration.k8s.io",
    "authentication": "authentication.k8s.io",
    "authorization": "authorization.k8s.io",
    "flowcontrol": "flowcontrol.apiserver.k8s.io",
    "resource": "resource.k8s.io",
    "storagemigration": "storagemigration.k8s.io",
    "apiserverinternal": "internal.apiserver.k8s.io",
    "admission": "admission.k8s.io",
    "imagepolicy": "imagepolicy.k8s.io",
}

# Embedded Go structs tagged ``json:",inline"``: protobuf nests them in a field of their
# own, JSON puts their fields in the parent (Volume.VolumeSource, Probe.ProbeHandler...).
_CORE = "k8s.io.api.core.v1."
INLINE = frozenset(
    [
        (_CORE + "Volume", "volumeSource"),
        (_CORE + "PersistentVolumeSpec", "persistentVolumeSource"),
        (_CORE + "EphemeralContainer", "ephemeralContainerCommon"),
        (_CORE + "Probe", "handler"),
        *(
            (_CORE + kind, "localObjectReference")
            for kind in (
                "ConfigMapEnvSource",
                "ConfigMapKeySelector",
                "ConfigMapProjection",
                "ConfigMapVolumeSource",
                "SecretEnvSource",
                "SecretKeySelector",
                "SecretProjection",
            )
        ),
        *(
            (f"k8s.io.api.{gv}.IngressRule", "ingressRuleValue")
            for gv in ("networking.v1", "networking.v1beta1", "extensions.v1beta1")
        ),
        *(
            (f"k8s.io.api.resource.{v}.{kind}", "deviceConfiguration")
            for v in ("v1alpha3", "v1beta1", "v1beta2", "v1")
            for kind in (
                "DeviceAllocationConfiguration",
                "DeviceClaimConfiguration",
                "DeviceClassConfiguration",
            )
        ),
    ]
)

# Scalar fields whose zero value is meaningful (Go pointers, or not omitempty).
KEEP_ZERO = frozenset(
    [
        "replicas",
        "parallelism",
        "completions",
        "backoffLimit",
        "backoffLimitPerIndex",
        "maxFailedIndexes",
        "activeDeadlineSeconds",
        "terminationGracePeriodSeconds",
        "revisionHistoryLimit",
        "progressDeadlineSeconds",
        "successfulJobsHistoryLimit",
        "failedJobsHistoryLimit",
        "ttlSecondsAfterFinished",
        "startingDeadlineSeconds",
        "suspend",
        "expirationSeconds",
        "automountServiceAccountToken",
        "immutable",
        "value",
        "port",
        "containerPort",
        "allowed",
        "minReplicas",
        "maxReplicas",
        "defaultMode",
        "mode",
        "runAsUser",
        "runAsGroup",
        "fsGroup",
        "runAsNonRoot",
        "privileged",
        "readOnlyRootFilesystem",
        "allowPrivilegeEscalation",
        "weight",
        "priority",
        "gracePeriodSeconds",
        "orphanDependents",
        "exitCode",
        "restartCount",
        "ready",
        "started",
        "number",
        "count",
        "hostUsers",
        "enableServiceLinks",
        "setHostnameAsFQDN",
        "shareProcessNamespace",
        "optional",
        "manualSelector",
        "completionMode",
        "podReplacementPolicy",
        "unschedulable",
        "globalDefault",
        "allowVolumeExpansion",
        "readOnly",
    ]
)


def default_path() -> Path:
    env = os.environ.get("PYK8S_PROTO_DESCRIPTORS")
    if env:
        return Path(env)
    cache = os.environ.get("PYK8S_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "pyk8s"
    )
    return Path(cache) / "k8s-proto" / "descriptors.pb"


class Codec:
    """Message classes from a FileDescriptorSet, by (apiVersion, kind)."""

    def __init__(self, descriptor_set: bytes) -> None:
        fds = descriptor_pb2.FileDescriptorSet.FromString(descriptor_set)
        self.pool = descriptor_pool.DescriptorPool()
        for f in fds.file:
            self.pool.Add(f)
        self._by_gvk: dict[tuple[str, str], Descriptor] = {}
        self._meta: dict[str, Descriptor] = {}
        for f in fds.file:
            pkg = f.package
            for m in f.message_type:
                desc = self.pool.FindMessageTypeByName(f"{pkg}.{m.name}")
                if pkg.startswith("k8s.io.api."):
                    parts = pkg.split(".")
                    if len(parts) == 5 and parts[3] in _GROUPS:
                        group, version = _GROUPS[parts[3]], parts[4]
                        gv = f"{group}/{version}" if group else version
                        self._by_gvk[(gv, m.name)] = desc
                elif pkg + "." == META:
                    self._meta[m.name] = desc
        self.unknown = self._class("k8s.io.apimachinery.pkg.runtime.Unknown")

    @classmethod
    def load(cls, path: Path | None = None) -> Codec | None:
        """The codec from the built descriptor set, or None when it was not built (blocking)."""
        p = path or default_path()
        try:
            data = p.read_bytes()
        except FileNotFoundError:
            return None
        return cls(data)

    def _class(self, full_name: str) -> type[Message]:
        cls: type[Message] = message_factory.GetMessageClass(
            self.pool.FindMessageTypeByName(full_name)
        )
        return cls

    def descriptor_for(self, api_version: str, kind: str) -> Descriptor | None:
        desc = self._by_gvk.get((api_version, kind))
        if desc is None and api_version in ("v1", "meta.k8s.io/v1"):
            desc = self._meta.get(kind)
        return desc

    def decode(self, body: bytes) -> dict[str, Any]:
        if not body.startswith(MAGIC):
            raise errors.UnsupportedMediaType(
                "the protobuf body does not start with the Kubernetes envelope magic k8s\\x00"
            )
        try:
            env = self.unknown.FromString(body[len(MAGIC) :])
        except DecodeError as e:
            raise errors.UnsupportedMediaType(
                f"unable to decode the protobuf envelope (runtime.Unknown): {e}"
            ) from e
        tm = getattr(env, "typeMeta")  # noqa: B009 - generated attribute
        api_version, kind = tm.apiVersion, tm.kind
        if getattr(env, "contentEncoding", ""):
            raise errors.UnsupportedMediaType(
                f"protobuf content encoding {env.contentEncoding!r} is not supported"
            )
        desc = self.descriptor_for(api_version, kind)
        if desc is None:
            raise errors.UnsupportedMediaType(
                f"no protobuf message is known for {kind} in {api_version or 'no apiVersion'}; "
                "send application/json"
            )
        cls = message_factory.GetMessageClass(desc)
        try:
            msg = cls.FromString(env.raw)
        except DecodeError as e:
            raise errors.UnsupportedMediaType(
                f"unable to decode {kind} ({api_version}) from protobuf: {e}"
            ) from e
        out = to_dict(msg)
        return {"apiVersion": api_version, "kind": kind, **out}


def to_dict(msg: Message) -> dict[str, Any]:
    out: dict[str, Any] = {}
    name = msg.DESCRIPTOR.full_name
    for fd, value in msg.ListFields():
        converted = _field(fd, value)
        if converted is _DROP:
            continue
        if (name, fd.name) in INLINE and isinstance(converted, dict):
            out.update(converted)
        else:
            out[fd.name] = converted
    return out


_DROP: Any = object()


def _field(fd: FieldDescriptor, value: Any) -> Any:
    if fd.message_type is not None and fd.message_type.GetOptions().map_entry:
        value_fd = fd.message_type.fields_by_name["value"]
        return {k: _single(value_fd, v, in_collection=True) for k, v in value.items()}
    if fd.is_repeated:
        return [_single(fd, v, in_collection=True) for v in value]
    return _single(fd, value, in_collection=False)


def _single(fd: FieldDescriptor, value: Any, *, in_collection: bool) -> Any:
    if fd.type == FieldDescriptor.TYPE_MESSAGE:
        return _message(value, in_collection=in_collection)
    if fd.type == FieldDescriptor.TYPE_BYTES:
        if not value and not in_collection:
            return _DROP
        return base64.b64encode(value).decode()
    if in_collection:
        return value
    if isinstance(value, str):
        return value if value else _DROP
    if isinstance(value, bool):
        return value if (value or fd.name in KEEP_ZERO) else _DROP
    if isinstance(value, int | float):
        return value if (value or fd.name in KEEP_ZERO) else _DROP
    return value


def _message(msg: Message, *, in_collection: bool) -> Any:
    name = msg.DESCRIPTOR.full_name
    if name == META + "Time":
        secs = getattr(msg, "seconds", 0)
        if not secs and not getattr(msg, "nanos", 0):
            return None if in_collection else _DROP
        t = datetime.datetime.fromtimestamp(secs, datetime.UTC)
        return t.strftime("%Y-%m-%dT%H:%M:%SZ")
    if name == META + "MicroTime":
        secs = getattr(msg, "seconds", 0)
        nanos = getattr(msg, "nanos", 0)
        if not secs and not nanos:
            return None if in_collection else _DROP
        t = datetime.datetime.fromtimestamp(secs, datetime.UTC)
        return t.strftime("%Y-%m-%dT%H:%M:%S") + f".{nanos // 1000:06d}Z"
    if name == META + "Duration":
        return go_duration(getattr(msg, "duration", 0))
    if name == "k8s.io.apimachinery.pkg.api.resource.Quantity":
        return getattr(msg, "string", "")
    if name == "k8s.io.apimachinery.pkg.util.intstr.IntOrString":
        if getattr(msg, "type", 0) == 1:
            return getattr(msg, "strVal", "")
        return getattr(msg, "intVal", 0)
    if name in ("k8s.io.apimachinery.pkg.runtime.RawExtension", META + "FieldsV1"):
        raw = getattr(msg, "raw", None)
        if raw is None:
            raw = getattr(msg, "Raw", b"")
        if not raw:
            return _DROP if not in_collection else None
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise errors.BadRequest(f"{name.rsplit('.', 1)[-1]} does not hold JSON") from None
    if name.endswith(".ExtraValue"):
        return list(getattr(msg, "items", []))
    return to_dict(msg)


def go_duration(nanos: int) -> str:
    """Go's ``time.Duration.String``: ``1h2m3s``, ``1.5s``, ``300ms``, ``0s``."""
    if nanos == 0:
        return "0s"
    sign = "-" if nanos < 0 else ""
    n = abs(nanos)
    if n < 1_000_000_000:
        for unit, size in (("ms", 1_000_000), ("µs", 1_000), ("ns", 1)):
            if n >= size:
                return sign + _trim(n / size) + unit
    hours, rem = divmod(n, 3_600_000_000_000)
    minutes, rem = divmod(rem, 60_000_000_000)
    secs = rem / 1_000_000_000
    out = ""
    if hours:
        out += f"{hours}h"
    if hours or minutes:
        out += f"{minutes}m"
    return sign + out + _trim(secs) + "s"


def _trim(x: float) -> str:
    s = f"{x:.9f}".rstrip("0").rstrip(".")
    return s or "0"


def unavailable() -> errors.UnsupportedMediaType:
    return errors.UnsupportedMediaType(
        "this server cannot decode protobuf request bodies: the Kubernetes protobuf "
        f"descriptors are missing ({default_path()}); build them with "
        "`make protos` (hack/build-k8s-protos.sh), or send application/json"
    )
