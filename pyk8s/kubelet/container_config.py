"""From a pod's container spec and its image to the runtime's ``ContainerConfig``.

Mirrors ``pkg/kubelet/kuberuntime/kuberuntime_container.go`` (``generateContainerConfig``),
``pkg/kubelet/kubelet_pods.go`` (``makeEnvironmentVariables``, ``podFieldSelectorRuntimeValue``,
``containerResourceRuntimeValue``), ``pkg/kubelet/container/helpers.go``
(``ExpandContainerCommandAndArgs``, ``expansion.MappingFuncFor``),
``pkg/kubelet/kuberuntime/security_context.go`` (``determineEffectiveSecurityContext``,
``verifyRunAsNonRoot``) and ``pkg/kubelet/cm/helpers_linux.go`` (cpu shares and quota).

Errors that make the container impossible to create (a missing ConfigMap key, runAsNonRoot
with a root image) raise :class:`ConfigError`; the pod worker turns it into the waiting reason
``CreateContainerConfigError``.
"""

from __future__ import annotations

import base64
import math
import re
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from pyk8s.api import errors, resource
from pyk8s.images.service import RuntimeImage
from pyk8s.kubelet.runtime import interface as cri

Obj = dict[str, Any]
Getter = Callable[[str, str, str], Awaitable[Obj]]
"""``getter(kind, namespace, name)``: a ConfigMap or Secret (raises ``errors.NotFound``)."""

MIN_SHARES = 2
MAX_SHARES = 262144
SHARES_PER_CPU = 1024
QUOTA_PERIOD = 100000  # microseconds


class ConfigError(Exception):
    """The container cannot be created as specified (``CreateContainerConfigError``)."""


_VAR = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.\-]*)\)")


def expand(s: str, env: Mapping[str, str]) -> str:
    """``$(VAR)`` → its value when defined (left as is otherwise); ``$$`` → ``$``."""

    def sub(m: re.Match[str]) -> str:
        if m.group(0) == "$$":
            return "$"
        name = m.group(1)
        return env[name] if name in env else m.group(0)

    return _VAR.sub(sub, s)


def command_and_args(
    container: Mapping[str, Any], image: RuntimeImage, env: Mapping[str, str]
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Docker's rule as Kubernetes documents it: ``command`` replaces the Entrypoint (and
    drops the image's Cmd); ``args`` replaces the Cmd."""
    command = container.get("command")
    args = container.get("args")
    if command:
        cmd = tuple(expand(c, env) for c in command)
        arg = tuple(expand(a, env) for a in args or ())
    else:
        cmd = image.entrypoint
        arg = tuple(expand(a, env) for a in args) if args else image.cmd
    if not cmd and not arg:
        raise ConfigError("no command specified")
    return cmd, arg


def field_value(pod: Obj, path: str, host_ip: str, pod_ips: list[str]) -> str:
    meta = pod.get("metadata") or {}
    spec = pod.get("spec") or {}
    m = re.fullmatch(r"metadata\.(labels|annotations)\['([^']*)'\]", path)
    if m:
        return str((meta.get(m.group(1)) or {}).get(m.group(2), ""))
    simple = {
        "metadata.name": meta.get("name", ""),
        "metadata.namespace": meta.get("namespace", ""),
        "metadata.uid": meta.get("uid", ""),
        "spec.nodeName": spec.get("nodeName", ""),
        "spec.serviceAccountName": spec.get("serviceAccountName", ""),
        "status.hostIP": host_ip,
        "status.hostIPs": host_ip,
        "status.podIP": pod_ips[0] if pod_ips else "",
        "status.podIPs": ",".join(pod_ips),
    }
    if path in simple:
        return str(simple[path])
    if path in ("metadata.labels", "metadata.annotations"):
        items = meta.get(path.split(".")[1]) or {}
        return "\n".join(f'{k}="{v}"' for k, v in sorted(items.items()))
    raise ConfigError(f"unsupported fieldRef {path!r}")


def resource_value(
    container: Mapping[str, Any], ref: Mapping[str, Any], allocatable: Mapping[str, str]
) -> str:
    """``resourceFieldRef``: a limit (the node's allocatable when unset) or a request,
    divided by the divisor and rounded up."""
    res = str(ref.get("resource", ""))
    kind, _, name = res.partition(".")
    if kind not in ("limits", "requests") or name not in ("cpu", "memory", "ephemeral-storage"):
        raise ConfigError(f"unsupported resourceFieldRef {res!r}")
    spec = (container.get("resources") or {}).get(kind) or {}
    raw = spec.get(name)
    if raw is None and kind == "requests":
        raw = ((container.get("resources") or {}).get("limits") or {}).get(name)
    if raw is None:
        raw = allocatable.get(name, "0") if kind == "limits" else "0"
    divisor = resource.parse_quantity(ref.get("divisor") or "1")
    if divisor <= 0:
        raise ConfigError(f"invalid divisor for {res!r}")
    return str(math.ceil(resource.parse_quantity(raw) / divisor))


async def environment(
    pod: Obj,
    container: Mapping[str, Any],
    image: RuntimeImage,
    get: Getter,
    *,
    host_ip: str,
    pod_ips: list[str],
    allocatable: Mapping[str, str],
    service_vars: Mapping[str, str] | None = None,
) -> list[tuple[str, str]]:
    """The container's environment: the image's, the Services' (:mod:`.envvars`), then
    ``envFrom``, then ``env`` in order, each value expanded against what is defined before
    it (``makeEnvironmentVariables``)."""
    ns = (pod.get("metadata") or {}).get("namespace", "default")
    out: dict[str, str] = {}
    for item in image.env:
        k, _, v = item.partition("=")
        out[k] = v
    out.update(service_vars or {})
    for src in container.get("envFrom") or []:
        prefix = str(src.get("prefix") or "")
        for kind in ("configMapRef", "secretRef"):
            ref = src.get(kind)
            if not ref:
                continue
            data = await _source_data(kind, ns, ref, get)
            for k, v in data.items():
                out[prefix + k] = v
    for e in container.get("env") or []:
        name = e["name"]
        if "valueFrom" not in e:
            out[name] = expand(str(e.get("value") or ""), out)
            continue
        vf = e["valueFrom"]
        if "fieldRef" in vf:
            out[name] = field_value(pod, vf["fieldRef"]["fieldPath"], host_ip, pod_ips)
        elif "resourceFieldRef" in vf:
            out[name] = resource_value(container, vf["resourceFieldRef"], allocatable)
        elif "configMapKeyRef" in vf or "secretKeyRef" in vf:
            kind = "configMapKeyRef" if "configMapKeyRef" in vf else "secretKeyRef"
            ref = vf[kind]
            data = await _source_data(kind, ns, ref, get)
            key = ref["key"]
            if key not in data:
                if ref.get("optional"):
                    continue
                what = "configmap" if kind == "configMapKeyRef" else "secret"
                raise ConfigError(f"couldn't find key {key} in {what} {ns}/{ref.get('name')}")
            out[name] = data[key]
        else:
            raise ConfigError(f"env {name}: unsupported valueFrom")
    return list(out.items())


async def _source_data(kind: str, ns: str, ref: Mapping[str, Any], get: Getter) -> dict[str, str]:
    is_cm = kind.startswith("configMap")
    name = str(ref.get("name", ""))
    try:
        obj = await get("ConfigMap" if is_cm else "Secret", ns, name)
    except errors.NotFound:
        if ref.get("optional"):
            return {}
        raise ConfigError(f'{"configmap" if is_cm else "secret"} "{name}" not found') from None
    if is_cm:
        data = {k: str(v) for k, v in (obj.get("data") or {}).items()}
        for k, v in (obj.get("binaryData") or {}).items():
            data[k] = base64.b64decode(v).decode(errors="replace")
        return data
    out = {
        k: base64.b64decode(v).decode(errors="replace") for k, v in (obj.get("data") or {}).items()
    }
    out.update({k: str(v) for k, v in (obj.get("stringData") or {}).items()})
    return out


def resources(container: Mapping[str, Any]) -> cri.Resources:
    res = container.get("resources") or {}
    limits = res.get("limits") or {}
    requests = res.get("requests") or {}
    cpu_req = requests.get("cpu", limits.get("cpu"))
    shares = MIN_SHARES
    if cpu_req is not None:
        shares = resource.milli_value(cpu_req) * SHARES_PER_CPU // 1000
        shares = min(max(shares, MIN_SHARES), MAX_SHARES)
    quota = 0
    if "cpu" in limits:
        quota = max(resource.milli_value(limits["cpu"]) * QUOTA_PERIOD // 1000, 1000)
    memory = resource.value(limits["memory"]) if "memory" in limits else 0
    return cri.Resources(
        cpu_period=QUOTA_PERIOD if quota else 0,
        cpu_quota=quota,
        cpu_shares=shares,
        memory_limit_in_bytes=memory,
    )


def _image_user(user: str) -> tuple[int | None, int | None]:
    u, _, g = user.partition(":")
    uid = int(u) if u.isdigit() else None
    gid = int(g) if g.isdigit() else None
    return uid, gid


def security(pod: Obj, container: Mapping[str, Any], image: RuntimeImage) -> cri.SecurityContext:
    """The container's securityContext over the pod's; runAsNonRoot checked as upstream."""
    psc = (pod.get("spec") or {}).get("securityContext") or {}
    csc = container.get("securityContext") or {}

    def pick(key: str) -> Any:
        return csc[key] if csc.get(key) is not None else psc.get(key)

    uid, gid = pick("runAsUser"), pick("runAsGroup")
    img_uid, img_gid = _image_user(image.user)
    if uid is None:
        uid = img_uid
        if gid is None:
            gid = img_gid
    if pick("runAsNonRoot"):
        if uid is None and image.user and img_uid is None:
            raise ConfigError(
                f"container has runAsNonRoot and image has non-numeric user ({image.user}), "
                "cannot verify user is non-root"
            )
        if not uid:
            raise ConfigError("container has runAsNonRoot and image will run as root")
    caps = csc.get("capabilities") or {}
    privileged = bool(csc.get("privileged"))
    ape = csc.get("allowPrivilegeEscalation")
    no_new_privs = ape is False and not privileged
    supplemental = tuple(int(g) for g in psc.get("supplementalGroups") or ())
    if psc.get("fsGroup") is not None:
        supplemental += (int(psc["fsGroup"]),)
    return cri.SecurityContext(
        run_as_user=uid,
        run_as_group=gid,
        supplemental_groups=supplemental,
        privileged=privileged,
        capabilities=cri.Capabilities(
            add=tuple(caps.get("add") or ()), drop=tuple(caps.get("drop") or ())
        ),
        readonly_rootfs=bool(csc.get("readOnlyRootFilesystem")),
        no_new_privs=no_new_privs,
    )


def mounts(
    container: Mapping[str, Any], volume_paths: Mapping[str, str], etc_hosts: str | None
) -> tuple[cri.Mount, ...]:
    """``makeMounts``: each volumeMount (with subPath) from the pod's mounted volumes, and
    the termination-log file."""
    out = []
    for vm in container.get("volumeMounts") or []:
        name = vm["name"]
        if name not in volume_paths:
            raise ConfigError(f"cannot find volume {name!r} to mount into container")
        host = volume_paths[name]
        sub = vm.get("subPath") or ""
        if sub:
            if sub.startswith("/") or ".." in sub.split("/"):
                raise ConfigError(f"invalid subPath {sub!r}")
            host = f"{host}/{sub}"
        propagation = {"HostToContainer": "rslave", "Bidirectional": "rshared"}.get(
            vm.get("mountPropagation") or "", "private"
        )
        out.append(cri.Mount(vm["mountPath"], host, bool(vm.get("readOnly")), propagation))
    return tuple(out)
