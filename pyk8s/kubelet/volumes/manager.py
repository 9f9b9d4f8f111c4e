"""The pod's volumes on the host: set up before its containers, torn down after them.

Mirrors ``pkg/kubelet/volumemanager`` (``WaitForAttachAndMount``) with the in-tree plugins
folded in: ``pkg/volume/emptydir`` (a directory, or a tmpfs for ``medium: Memory`` sized by
``sizeLimit``), ``pkg/volume/hostpath`` (with the ``type`` checks), ``pkg/volume/configmap``,
``pkg/volume/secret``, ``pkg/volume/downwardapi`` and ``pkg/volume/projected`` (files written
by :mod:`.atomic_writer`, so updates reach running containers), and
``persistentVolumeClaim`` bound to a ``hostPath`` or ``local`` PersistentVolume.

Layout as upstream: ``<root>/pods/<uid>/volumes/kubernetes.io~<plugin>/<name>``.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import shutil
import stat
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any, Protocol

from pyk8s.api import errors, resource
from pyk8s.kubelet import container_config
from pyk8s.kubelet.runtime import command
from pyk8s.kubelet.volumes import atomic_writer

Obj = dict[str, Any]
Getter = Callable[[str, str, str], Awaitable[Obj]]

PLUGIN_DIRS = {
    "emptyDir": "kubernetes.io~empty-dir",
    "configMap": "kubernetes.io~configmap",
    "secret": "kubernetes.io~secret",
    "downwardAPI": "kubernetes.io~downward-api",
    "projected": "kubernetes.io~projected",
}


class VolumeError(Exception):
    """A volume cannot be set up (``FailedMount``); the pod waits in ContainerCreating."""


def _mounted(path: Path) -> bool:
    p = str(path)
    with open("/proc/self/mountinfo") as f:
        return any(line.split()[4] == p for line in f)


class Tokens(Protocol):
    """Where projected ``serviceAccountToken`` files come from (the kubelet's token manager)."""

    async def token(self, pod: Obj, source: Obj) -> str: ...

    def forget(self, pod_uid: str) -> None: ...


class VolumeManager:
    def __init__(self, pods_dir: Path, get: Getter, tokens: Tokens | None = None) -> None:
        self.pods_dir = pods_dir
        self.get = get
        self.tokens = tokens

    def pod_dir(self, uid: str) -> Path:
        return self.pods_dir / uid

    async def setup(
        self, pod: Obj, host_ip: str, pod_ips: list[str], allocatable: Mapping[str, str]
    ) -> dict[str, str]:
        """Mount (or refresh) every volume of ``pod``; its host path by volume name."""
        uid = pod["metadata"]["uid"]
        out: dict[str, str] = {}
        for vol in (pod.get("spec") or {}).get("volumes") or []:
            name = vol["name"]
            try:
                out[name] = await self._one(pod, uid, vol, host_ip, pod_ips, allocatable)
            except (OSError, ValueError, container_config.ConfigError) as e:
                raise VolumeError(f'MountVolume.SetUp failed for volume "{name}" : {e}') from e
        return out

    async def _one(
        self,
        pod: Obj,
        uid: str,
        vol: Obj,
        host_ip: str,
        pod_ips: list[str],
        allocatable: Mapping[str, str],
    ) -> str:
        name = vol["name"]
        ns = pod["metadata"].get("namespace", "default")
        if "hostPath" in vol:
            hp = vol["hostPath"]
            await asyncio.to_thread(check_host_path, hp["path"], hp.get("type") or "")
            return str(hp["path"])
        if "persistentVolumeClaim" in vol:
            return await self._pvc(ns, vol["persistentVolumeClaim"])
        kind = next((k for k in PLUGIN_DIRS if k in vol), None)
        if kind is None:
            raise VolumeError(f'volume "{name}": unsupported volume type')
        path = self.pod_dir(uid) / "volumes" / PLUGIN_DIRS[kind] / name
        if kind == "emptyDir":
            await self._empty_dir(path, vol["emptyDir"] or {})
            return str(path)
        payload = await self._payload(pod, ns, kind, vol[kind] or {}, host_ip, pod_ips, allocatable)
        if payload is not None:
            await asyncio.to_thread(atomic_writer.write, path, payload)
        else:
            await asyncio.to_thread(path.mkdir, parents=True, exist_ok=True)
        return str(path)

    async def _empty_dir(self, path: Path, spec: Obj) -> None:
        await asyncio.to_thread(path.mkdir, parents=True, exist_ok=True)
        await asyncio.to_thread(path.chmod, 0o777)
        if spec.get("medium") == "Memory" and not await asyncio.to_thread(_mounted, path):
            opts = "mode=1777"
            if spec.get("sizeLimit"):
                opts += f",size={resource.value(spec['sizeLimit'])}"
            await command.run("mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(path))

    async def _pvc(self, ns: str, src: Obj) -> str:
        claim = src.get("claimName", "")
        try:
            pvc = await self.get("PersistentVolumeClaim", ns, claim)
        except errors.NotFound:
            raise VolumeError(f'persistentvolumeclaim "{claim}" not found') from None
        pv_name = (pvc.get("spec") or {}).get("volumeName")
        if not pv_name or (pvc.get("status") or {}).get("phase") != "Bound":
            raise VolumeError(f'persistentvolumeclaim "{claim}" is not bound')
        pv = await self.get("PersistentVolume", "", pv_name)
        spec = pv.get("spec") or {}
        for kind in ("hostPath", "local"):
            if kind in spec:
                path = str(spec[kind]["path"])
                t = spec[kind].get("type") or "" if kind == "hostPath" else "Directory"
                await asyncio.to_thread(check_host_path, path, t)
                return path
        raise VolumeError(f'persistentvolume "{pv_name}": only hostPath and local are supported')

    async def _payload(
        self,
        pod: Obj,
        ns: str,
        kind: str,
        spec: Obj,
        host_ip: str,
        pod_ips: list[str],
        allocatable: Mapping[str, str],
    ) -> dict[str, atomic_writer.File] | None:
        default = int(spec.get("defaultMode", 0o644))
        if kind == "projected":
            out: dict[str, atomic_writer.File] = {}
            for source in spec.get("sources") or []:
                sat = source.get("serviceAccountToken")
                if sat is not None:
                    out[str(sat.get("path") or "token")] = atomic_writer.File(
                        (await self._token(pod, sat)).encode(), default
                    )
                for sub in ("configMap", "secret", "downwardAPI"):
                    if sub in source:
                        part = await self._payload(
                            pod,
                            ns,
                            sub,
                            {"defaultMode": default, **source[sub]},
                            host_ip,
                            pod_ips,
                            allocatable,
                        )
                        out.update(part or {})
            return out
        if kind == "downwardAPI":
            out = {}
            containers = {c["name"]: c for c in (pod.get("spec") or {}).get("containers") or []}
            for item in spec.get("items") or []:
                if "fieldRef" in item:
                    value = container_config.field_value(
                        pod, item["fieldRef"]["fieldPath"], host_ip, pod_ips
                    )
                else:
                    ref = item.get("resourceFieldRef") or {}
                    c = containers.get(ref.get("containerName", ""), {})
                    value = container_config.resource_value(c, ref, allocatable)
                mode = int(item.get("mode", default))
                out[item["path"]] = atomic_writer.File(value.encode(), mode)
            return out
        type_ = "ConfigMap" if kind == "configMap" else "Secret"
        obj_name = spec.get("name") if kind == "configMap" else spec.get("secretName")
        try:
            obj = await self.get(type_, ns, str(obj_name or ""))
        except errors.NotFound:
            if spec.get("optional"):
                return {}
            raise VolumeError(f'{type_.lower()} "{obj_name}" not found') from None
        data: dict[str, bytes] = {}
        if kind == "configMap":
            data = {k: str(v).encode() for k, v in (obj.get("data") or {}).items()}
            data.update({k: base64.b64decode(v) for k, v in (obj.get("binaryData") or {}).items()})
        else:
            data = {k: base64.b64decode(v) for k, v in (obj.get("data") or {}).items()}
        items = spec.get("items")
        if not items:
            return {k: atomic_writer.File(v, default) for k, v in data.items()}
        out = {}
        for item in items:
            if item["key"] not in data:
                if spec.get("optional"):
                    continue
                raise VolumeError(
                    f"configmap references non-existent config key: {item['key']}"
                    if kind == "configMap"
                    else f"references non-existent secret key: {item['key']}"
                )
            out[item["path"]] = atomic_writer.File(
                data[item["key"]], int(item.get("mode", default))
            )
        return out

    async def _token(self, pod: Obj, source: Obj) -> str:
        if self.tokens is None:
            raise VolumeError("service account tokens are not available on this node")
        try:
            return await self.tokens.token(pod, source)
        except errors.ApiError as e:
            raise VolumeError(f"failed to fetch token: {e}") from e

    async def teardown(self, uid: str) -> None:
        """Unmount and remove everything of the pod's volumes (hostPath data is not ours)."""
        if self.tokens is not None:
            self.tokens.forget(uid)
        base = self.pod_dir(uid)
        if not await asyncio.to_thread(base.exists):
            return
        mounts = await asyncio.to_thread(_mounts_below, base)
        for m in mounts:
            await command.run("umount", m, check=False)
        if await asyncio.to_thread(_mounts_below, base):
            for m in mounts:
                await command.run("umount", "-l", m, check=False)
        await asyncio.to_thread(shutil.rmtree, base, True)

    async def known_pods(self) -> list[str]:
        def ls() -> list[str]:
            with contextlib.suppress(FileNotFoundError):
                return os.listdir(self.pods_dir)
            return []

        return await asyncio.to_thread(ls)


def _mounts_below(base: Path) -> list[str]:
    prefix = str(base) + "/"
    with open("/proc/self/mountinfo") as f:
        found = [line.split()[4] for line in f]
    return sorted((m for m in found if m.startswith(prefix)), key=len, reverse=True)


def check_host_path(path: str, type_: str) -> None:
    """``hostPath.type`` as ``pkg/volume/hostpath`` checks it (blocking)."""
    p = Path(path)
    if type_ == "DirectoryOrCreate":
        p.mkdir(mode=0o755, parents=True, exist_ok=True)
        return
    if type_ == "FileOrCreate":
        if not p.exists():
            p.parent.mkdir(parents=True, exist_ok=True)
            p.touch(mode=0o644)
        return
    if not type_:
        return
    try:
        mode = p.stat().st_mode
    except FileNotFoundError:
        raise VolumeError(f"hostPath type check failed: {path} does not exist") from None
    ok = {
        "Directory": stat.S_ISDIR,
        "File": stat.S_ISREG,
        "Socket": stat.S_ISSOCK,
        "CharDevice": stat.S_ISCHR,
        "BlockDevice": stat.S_ISBLK,
    }.get(type_)
    if ok is None:
        raise VolumeError(f"unknown hostPath type {type_!r}")
    if not ok(mode):
        raise VolumeError(f"hostPath type check failed: {path} is not a {type_.lower()}")
