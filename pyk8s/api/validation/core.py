"""Semantic validation of core/v1 objects (the parts clients hit most).

Mirrors ``pkg/apis/core/validation/validation.go``: ``ValidatePodSpec``
(containers required, names unique DNS labels, image required, restart and DNS
policies, ports), ``ValidateConfigMap`` / ``ValidateSecret`` (key names, size,
base64 data), the ``field.Error`` paths and messages as upstream words them.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any

from pyk8s.api import meta, resource
from pyk8s.api.errors import (
    FieldError,
    forbidden,
    invalid_value,
    not_supported,
    required,
)

Obj = dict[str, Any]

_CONFIG_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")
MAX_CONFIG_BYTES = 1024 * 1024
RESTART_POLICIES = ["Always", "OnFailure", "Never"]
DNS_POLICIES = ["ClusterFirst", "ClusterFirstWithHostNet", "Default", "None"]
PULL_POLICIES = ["Always", "IfNotPresent", "Never"]
PROTOCOLS = ["SCTP", "TCP", "UDP"]


def config_key(key: str, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    if len(key) > meta.DNS1123_SUBDOMAIN_MAX:
        errs.append(
            invalid_value(
                path, key, f"must be no more than {meta.DNS1123_SUBDOMAIN_MAX} characters"
            )
        )
    if not _CONFIG_KEY.match(key):
        errs.append(
            invalid_value(
                path,
                key,
                "a valid config key must consist of alphanumeric characters, '-', '_' or '.' "
                "(e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation "
                "is '[-._a-zA-Z0-9]+')",
            )
        )
    return errs


def _containers(items: Any, path: str, names: set[str], *, need_one: bool) -> list[FieldError]:
    errs: list[FieldError] = []
    if not isinstance(items, list) or (need_one and not items):
        if need_one:
            errs.append(required(path))
        return errs
    for i, c in enumerate(items):
        p = f"{path}[{i}]"
        if not isinstance(c, dict):
            errs.append(invalid_value(p, c, "must be an object"))
            continue
        _name_image_pull(c, p, names, errs)
        for j, port in enumerate(c.get("ports") or []):
            pp = f"{p}.ports[{j}]"
            cp = port.get("containerPort") if isinstance(port, dict) else None
            if not isinstance(cp, int) or not 1 <= cp <= 65535:
                errs.append(
                    invalid_value(
                        f"{pp}.containerPort", cp, "must be between 1 and 65535, inclusive"
                    )
                )
            hp = port.get("hostPort") if isinstance(port, dict) else None
            if hp is not None and hp != 0 and (not isinstance(hp, int) or not 1 <= hp <= 65535):
                errs.append(
                    invalid_value(f"{pp}.hostPort", hp, "must be between 1 and 65535, inclusive")
                )
            proto = port.get("protocol", "TCP") if isinstance(port, dict) else "TCP"
            if proto not in PROTOCOLS:
                errs.append(not_supported(f"{pp}.protocol", proto, PROTOCOLS))
        errs += _resource_requirements(c.get("resources"), f"{p}.resources")
    return errs


def _resource_requirements(res: Any, path: str) -> list[FieldError]:
    """``ValidateResourceRequirements``: no negative amount, and no request above its limit
    (quantities that do not parse failed decoding before)."""
    if not isinstance(res, dict):
        return []
    errs: list[FieldError] = []
    limits: dict[str, Any] = res["limits"] if isinstance(res.get("limits"), dict) else {}
    requests: dict[str, Any] = res["requests"] if isinstance(res.get("requests"), dict) else {}
    parsed: dict[str, dict[str, Any]] = {"limits": {}, "requests": {}}
    for kind, amounts in (("limits", limits), ("requests", requests)):
        for name, q in amounts.items():
            try:
                value = resource.parse_quantity(q)
            except resource.QuantityError:
                continue
            parsed[kind][name] = value
            if value < 0:
                errs.append(
                    invalid_value(
                        f"{path}.{kind}[{name}]",
                        resource.canonical(q),
                        "must be greater than or equal to 0",
                    )
                )
    for name, value in parsed["requests"].items():
        limit = parsed["limits"].get(name)
        if limit is not None and value > limit:
            errs.append(
                invalid_value(
                    f"{path}.requests",  # upstream names the map, not the key, here
                    resource.canonical(requests[name]),
                    f"must be less than or equal to {name} limit of "
                    f"{resource.canonical(limits[name])}",
                )
            )
    return errs


def _host_network_ports(spec: Obj, path: str, is_pod: bool) -> list[FieldError]:
    """``validateHostNetwork``: a host-network pod's hostPort is its containerPort (a template
    may leave it 0: the Pod made from it is defaulted)."""
    errs: list[FieldError] = []
    if not spec.get("hostNetwork"):
        return errs
    for key in ("containers", "initContainers"):
        for i, c in enumerate(spec.get(key) or []):
            for j, port in enumerate((c.get("ports") or []) if isinstance(c, dict) else []):
                if not isinstance(port, dict):
                    continue
                hp, cp = port.get("hostPort") or 0, port.get("containerPort")
                if (is_pod or hp != 0) and hp != cp:
                    errs.append(
                        invalid_value(
                            f"{path}.{key}[{i}].ports[{j}].hostPort",
                            hp,
                            "must match `containerPort` when `hostNetwork` is true",
                        )
                    )
    return errs


def pod_spec(spec: Any, path: str, *, is_pod: bool = False) -> list[FieldError]:
    if not isinstance(spec, dict):
        spec = {}  # a struct upstream: an absent spec is validated as an empty one
    errs: list[FieldError] = []
    names: set[str] = set()
    errs += _containers(spec.get("containers"), f"{path}.containers", names, need_one=True)
    errs += _containers(spec.get("initContainers"), f"{path}.initContainers", names, need_one=False)
    errs += _host_network_ports(spec, path, is_pod)
    if is_pod:
        errs += ephemeral_containers(spec, f"{path}.ephemeralContainers", names)
    policy = spec.get("restartPolicy")
    if policy is not None and policy not in RESTART_POLICIES:
        errs.append(not_supported(f"{path}.restartPolicy", policy, RESTART_POLICIES))
    dns = spec.get("dnsPolicy")
    if dns is not None and dns not in DNS_POLICIES:
        errs.append(not_supported(f"{path}.dnsPolicy", dns, DNS_POLICIES))
    volumes: set[str] = set()
    for i, v in enumerate(spec.get("volumes") or []):
        name = v.get("name", "") if isinstance(v, dict) else ""
        if not name:
            errs.append(required(f"{path}.volumes[{i}].name"))
        elif name in volumes:
            errs.append(FieldError("FieldValueDuplicate", f"{path}.volumes[{i}].name", "", name))
        volumes.add(name)
    gates: set[str] = set()
    for i, g in enumerate(spec.get("schedulingGates") or []):
        gate = str(g.get("name") or "") if isinstance(g, dict) else ""
        gate_path = f"{path}.schedulingGates[{i}]"
        errs += [invalid_value(gate_path, gate, m) for m in meta.qualified_name(gate)]
        if gate in gates:
            errs.append(FieldError("FieldValueDuplicate", gate_path, "", gate))
        gates.add(gate)
    grace = spec.get("terminationGracePeriodSeconds")
    if isinstance(grace, int) and grace < 0:
        errs.append(
            invalid_value(
                f"{path}.terminationGracePeriodSeconds", grace, "must be greater than or equal to 0"
            )
        )
    return errs


# validation.go allowedEphemeralContainerFields: what an ephemeral container may set.
_EPHEMERAL_ALLOWED = frozenset({
    "name", "image", "command", "args", "workingDir", "envFrom", "env", "volumeMounts",
    "volumeDevices", "terminationMessagePath", "terminationMessagePolicy", "imagePullPolicy",
    "securityContext", "stdin", "stdinOnce", "tty", "targetContainerName",
})  # fmt: skip


def ephemeral_containers(spec: Obj, path: str, names: set[str]) -> list[FieldError]:
    """``validateEphemeralContainers``: unique names across every kind of container, a
    target that is a regular or init container, none of the fields that would make the
    container part of the workload (ports, probes, lifecycle, resources, subPath)."""
    errs: list[FieldError] = []
    items = spec.get("ephemeralContainers") or []
    if not isinstance(items, list):
        return [invalid_value(path, items, "must be a list")]
    others = {c.get("name") for key in ("containers", "initContainers")
              for c in spec.get(key) or [] if isinstance(c, dict)}  # fmt: skip
    seen = set(names)
    for i, c in enumerate(items):
        p = f"{path}[{i}]"
        if not isinstance(c, dict):
            errs.append(invalid_value(p, c, "must be an object"))
            continue
        _name_image_pull(c, p, seen, errs)
        target = c.get("targetContainerName")
        if target and target not in others:
            errs.append(FieldError("FieldValueNotFound", f"{p}.targetContainerName", "", target))
        for key in sorted(k for k, v in c.items() if v not in (None, [], {}, "", False)):
            if key not in _EPHEMERAL_ALLOWED:
                errs.append(forbidden(f"{p}.{key}", "cannot be set for an Ephemeral Container"))
        for j, vm in enumerate(c.get("volumeMounts") or []):
            for key in ("subPath", "subPathExpr"):
                if isinstance(vm, dict) and vm.get(key):
                    errs.append(forbidden(f"{p}.volumeMounts[{j}].{key}",
                                          "cannot be set for an Ephemeral Container"))  # fmt: skip
    return errs


def ephemeral_containers_update(obj: Obj, old: Obj) -> list[FieldError]:
    """``ValidatePodEphemeralContainersUpdate``: the pod as a whole stays valid, static pods
    take none, and existing ephemeral containers are neither changed nor removed."""
    errs = pod(obj)
    annotations = (old.get("metadata") or {}).get("annotations") or {}
    if "kubernetes.io/config.mirror" in annotations:
        return [forbidden("", "static pods do not support ephemeral containers")]
    path = "spec.ephemeralContainers"
    new = {c.get("name"): c for c in (obj.get("spec") or {}).get("ephemeralContainers") or []
           if isinstance(c, dict)}  # fmt: skip
    for c in (old.get("spec") or {}).get("ephemeralContainers") or []:
        name = c.get("name")
        if name not in new:
            errs.append(
                forbidden(path, f'existing ephemeral containers "{name}" may not be removed\n')
            )
        elif new[name] != c:
            errs.append(
                forbidden(path, f'existing ephemeral containers "{name}" may not be changed\n')
            )
    return errs


def pod(obj: Obj) -> list[FieldError]:
    return pod_spec(obj.get("spec"), "spec", is_pod=True)


def _scheduling_gates_update(new_spec: Obj, old_spec: Obj) -> list[FieldError]:
    """``validateOnlyDeletedSchedulingGates``: gates may be removed, never added."""
    old_names = {
        g.get("name") for g in old_spec.get("schedulingGates") or [] if isinstance(g, dict)
    }
    errs: list[FieldError] = []
    for i, g in enumerate(new_spec.get("schedulingGates") or []):
        name = g.get("name") if isinstance(g, dict) else g
        if name not in old_names:
            errs.append(
                forbidden(
                    f"spec.schedulingGates[{i}].name",
                    f"only deletion is allowed, but found new scheduling gate '{name}'",
                )
            )
    return errs


def _required_terms(spec: Obj) -> list[Any] | None:
    node_affinity = (spec.get("affinity") or {}).get("nodeAffinity") or {}
    required = node_affinity.get("requiredDuringSchedulingIgnoredDuringExecution")
    if required is None:
        return None
    return list(required.get("nodeSelectorTerms") or [])


def _gated_scheduling_directives_update(new_spec: Obj, old_spec: Obj) -> list[FieldError]:
    """A gated pod's placement may be narrowed (KEP-3838): nodeSelector entries added,
    required node affinity terms given more expressions; nothing loosened."""
    errs: list[FieldError] = []
    old_sel = old_spec.get("nodeSelector") or {}
    new_sel = new_spec.get("nodeSelector") or {}
    if any(new_sel.get(k) != v for k, v in old_sel.items()):
        errs.append(
            invalid_value(
                "spec.nodeSelector",
                new_sel,
                "only additions to spec.nodeSelector are allowed (no mutations or deletions)",
            )
        )
    old_terms = _required_terms(old_spec)
    if old_terms is not None:
        path = (
            "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution"
            ".nodeSelectorTerms"
        )
        new_terms = _required_terms(new_spec) or []
        if len(new_terms) != len(old_terms):
            errs.append(
                invalid_value(
                    path,
                    new_terms,
                    "no additions/deletions to non-empty NodeSelectorTerms list are allowed",
                )
            )
        else:
            for i, (o, n) in enumerate(zip(old_terms, new_terms, strict=True)):
                for key in ("matchExpressions", "matchFields"):
                    olds = (o or {}).get(key) or []
                    news = (n or {}).get(key) or []
                    if news[: len(olds)] != olds:
                        errs.append(
                            invalid_value(
                                f"{path}[{i}]",
                                n,
                                "only additions are allowed (no mutations or deletions)",
                            )
                        )
                        break
    return errs


def _toleration_key(t: Any) -> Any:
    """A toleration as ``validateOnlyAddedTolerations`` compares it: its seconds aside."""
    if not isinstance(t, dict):
        return t
    return {k: v for k, v in t.items() if k != "tolerationSeconds" and v not in ("", None)}


def _only_added_tolerations(new: Any, old: Any) -> list[FieldError]:
    """``validateOnlyAddedTolerations``: every existing toleration is still there."""
    added = [_toleration_key(t) for t in new or []] if isinstance(new, list) else []
    for t in old or [] if isinstance(old, list) else []:
        if _toleration_key(t) not in added:
            return [
                forbidden(
                    "spec.tolerations",
                    "existing toleration can not be modified except its tolerationSeconds",
                )
            ]
    return []


def _active_deadline_update(new: Any, old: Any) -> list[FieldError]:
    """Set from nothing, or lowered; never removed (``ValidatePodUpdate``)."""
    path = "spec.activeDeadlineSeconds"
    if isinstance(new, int) and not isinstance(new, bool):
        if new < 0 or new > 2147483647:
            return [invalid_value(path, new, "must be between 0 and 2147483647, inclusive")]
        if isinstance(old, int) and old < new:
            return [invalid_value(path, new, "must be less than or equal to previous value")]
    elif new is None and old is not None:
        return [invalid_value(path, None, "must not update from a positive integer to nil value")]
    return []


def pod_update(obj: Obj, old: Obj) -> list[FieldError]:
    """Pod specs are immutable except images, activeDeadlineSeconds, tolerations (additions),
    scheduling gates (removals) and, while gated, a narrower placement."""
    new_spec = dict(obj.get("spec") or {})
    old_spec = dict(old.get("spec") or {})
    errs = _active_deadline_update(
        new_spec.get("activeDeadlineSeconds"), old_spec.get("activeDeadlineSeconds")
    )
    if errs:
        return errs
    errs = _only_added_tolerations(new_spec.get("tolerations"), old_spec.get("tolerations"))
    errs += _scheduling_gates_update(new_spec, old_spec)
    gated = bool(old_spec.get("schedulingGates"))
    if gated:
        errs += _gated_scheduling_directives_update(new_spec, old_spec)
    for spec in (new_spec, old_spec):
        spec.pop("activeDeadlineSeconds", None)
        spec.pop("tolerations", None)
        spec.pop("terminationGracePeriodSeconds", None)
        spec.pop("schedulingGates", None)
        if gated:
            spec.pop("nodeSelector", None)
            if isinstance(spec.get("affinity"), dict):
                spec["affinity"] = {
                    k: v for k, v in spec["affinity"].items() if k != "nodeAffinity"
                } or None
                if spec["affinity"] is None:
                    spec.pop("affinity")
        for key in ("containers", "initContainers"):
            spec[key] = [
                {k: v for k, v in c.items() if k != "image"} if isinstance(c, dict) else c
                for c in spec.get(key) or []
            ]
    if new_spec.get("nodeName") is None and old_spec.get("nodeName"):
        new_spec["nodeName"] = old_spec["nodeName"]
    if errs:
        return errs
    if new_spec != old_spec:
        return [
            *errs,
            forbidden(
                "spec",
                "pod updates may not change fields other than `spec.containers[*].image`,"
                "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,"
                "`spec.tolerations` (only additions to existing tolerations),"
                "`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was "
                "previously negative)",
            ),
        ]
    return errs


def configmap(obj: Obj) -> list[FieldError]:
    errs: list[FieldError] = []
    size = 0
    data = obj.get("data") or {}
    binary = obj.get("binaryData") or {}
    if not isinstance(data, dict):
        return [invalid_value("data", data, "must be a map of strings")]
    for k, v in data.items():
        errs += config_key(k, "data[" + k + "]")
        if not isinstance(v, str):
            errs.append(invalid_value(f"data[{k}]", v, "must be a string"))
        else:
            size += len(v)
    for k, v in binary.items() if isinstance(binary, dict) else []:
        errs += config_key(k, "binaryData[" + k + "]")
        if k in data:
            errs.append(invalid_value(f"data[{k}]", k, "duplicate of key present in binaryData"))
        size += len(v) if isinstance(v, str) else 0
    if size > MAX_CONFIG_BYTES:
        errs.append(
            FieldError(
                "FieldValueTooLong",
                "",
                f"must have at most {MAX_CONFIG_BYTES} bytes",
                show_value=False,
            )
        )
    return errs


def secret(obj: Obj) -> list[FieldError]:
    errs: list[FieldError] = []
    data = obj.get("data") or {}
    if not isinstance(data, dict):
        return [invalid_value("data", data, "must be a map of base64 strings")]
    for k, v in data.items():
        errs += config_key(k, f"data[{k}]")
        try:
            base64.b64decode(str(v), validate=True)
        except (binascii.Error, ValueError):
            errs.append(
                invalid_value(f"data[{k}]", "<secret contents redacted>", "illegal base64 data")
            )
    for k in obj.get("stringData") or {}:
        errs += config_key(k, f"stringData[{k}]")
    return errs


def _name_image_pull(c: dict[str, Any], p: str, seen: set[Any], errs: list[FieldError]) -> None:
    """What every kind of container must have: a unique DNS label name, an image and a
    known imagePullPolicy."""
    name = c.get("name", "")
    if not name:
        errs.append(required(f"{p}.name"))
    else:
        for msg in meta.dns1123_label(str(name)):
            errs.append(invalid_value(f"{p}.name", name, msg))
        if name in seen:
            errs.append(FieldError("FieldValueDuplicate", f"{p}.name", "", name))
        seen.add(name)
    if not c.get("image"):
        errs.append(required(f"{p}.image"))
    pull = c.get("imagePullPolicy")
    if pull and pull not in PULL_POLICIES:
        errs.append(not_supported(f"{p}.imagePullPolicy", pull, PULL_POLICIES))
