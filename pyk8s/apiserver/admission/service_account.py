"""The ServiceAccount admission plugin: a pod runs as a service account, with its API token.

Mirrors ``plugin/pkg/admission/serviceaccount/admission.go`` (``Admit`` on pod create):
``spec.serviceAccountName`` defaults to ``default``; a named account that does not exist is
refused with upstream's 403 (``error looking up service account ns/name: serviceaccount
"name" not found``); a missing ``default`` account is read again as ``getServiceAccount``
does (ten reads 100-200 ms apart: the ServiceAccount controller makes it just after the
namespace, and a pod created right after its namespace waits for it); unless the pod or
else the account says ``automountServiceAccountToken: false``, the pod gets the projected
``kube-api-access-<5 chars>`` volume (a bound token from ``serviceaccounts/token`` with
``expirationSeconds: 3607``, ``ca.crt`` from the ``kube-root-ca.crt`` ConfigMap, and the
namespace from the downward API), mounted read-only at
``/var/run/secrets/kubernetes.io/serviceaccount`` in every container that mounts nothing
there. Mirror pods (static pods shown by a kubelet) are left alone.

One difference, on purpose: when the ``default`` account is still missing after those
retries, upstream refuses the pod; pyk8s admits it with the token volume (its kubelet mounts
the token once the account exists). A ``pyk8s server`` under load starts its
controller-manager seconds after the API server answers ``/readyz``, and a pod applied in that
gap would otherwise be lost; an API server run without a controller-manager admits pods too.
``--disable-admission-plugins=ServiceAccount`` leaves the plugin out altogether.
"""

from __future__ import annotations

import asyncio
import random
import secrets
from typing import Any

import orjson

from pyk8s.api import errors, scheme
from pyk8s.apiserver.registry.generic.strategy import Obj
from pyk8s.storage import interface as storage

DEFAULT_SERVICE_ACCOUNT = "default"
VOLUME_PREFIX = "kube-api-access-"
MOUNT_PATH = "/var/run/secrets/kubernetes.io/serviceaccount"
EXPIRATION_SECONDS = 3607  # an hour and 7 s: upstream's marker for "a default token"
ROOT_CA_CONFIGMAP = "kube-root-ca.crt"
MIRROR_ANNOTATION = "kubernetes.io/config.mirror"
DEFAULT_ACCOUNT_ATTEMPTS = 10
"""Reads of a missing ``default`` account before the pod is refused (other names: one)."""
_SUFFIX_CHARS = "bcdfghjklmnpqrstvwxz2456789"  # k8s.io/apimachinery/pkg/util/rand alphabet


def token_volume(name: str) -> Obj:
    return {
        "name": name,
        "projected": {
            "defaultMode": 0o644,
            "sources": [
                {"serviceAccountToken": {"expirationSeconds": EXPIRATION_SECONDS, "path": "token"}},
                {
                    "configMap": {
                        "name": ROOT_CA_CONFIGMAP,
                        "items": [{"key": "ca.crt", "path": "ca.crt"}],
                    }
                },
                {
                    "downwardAPI": {
                        "items": [
                            {
                                "path": "namespace",
                                "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"},
                            }
                        ]
                    }
                },
            ],
        },
    }


class ServiceAccount:
    mutating = True
    """It changes the object: what it adds is tracked by no field manager."""

    def __init__(self, backend: storage.Interface, resource: scheme.Resource) -> None:
        self.storage = backend
        self.resource = resource

    async def __call__(self, operation: str, obj: Obj, old: Obj | None) -> None:
        if operation != "CREATE" or (self.resource.group, self.resource.plural) != ("", "pods"):
            return
        md = obj.get("metadata") or {}
        spec = obj.get("spec")
        if not isinstance(spec, dict) or MIRROR_ANNOTATION in (md.get("annotations") or {}):
            return
        name = spec.get("serviceAccountName") or spec.get("serviceAccount") or ""
        if not name:
            name = DEFAULT_SERVICE_ACCOUNT
        if not isinstance(name, str):
            return  # validation reports it
        spec["serviceAccountName"] = name
        spec["serviceAccount"] = name  # the deprecated alias, as v1 conversion fills it
        ns = md.get("namespace") or "default"
        account = await self._lookup(ns, name)
        if account is None and name != DEFAULT_SERVICE_ACCOUNT:
            raise errors.Forbidden.for_object(
                self.resource.plural,
                self.resource.group,
                md.get("name", ""),
                f'error looking up service account {ns}/{name}: serviceaccount "{name}" not found',
                None,
            )
        if should_automount(account, spec):
            mount_token(spec)

    async def _lookup(self, ns: str, name: str) -> dict[str, Any] | None:
        attempts = DEFAULT_ACCOUNT_ATTEMPTS if name == DEFAULT_SERVICE_ACCOUNT else 1
        interval = random.uniform(0.1, 0.2)
        for attempt in range(attempts):
            if attempt:
                await asyncio.sleep(interval)
            account = await self._get(ns, name)
            if account is not None:
                return account
        return None

    async def _get(self, ns: str, name: str) -> dict[str, Any] | None:
        try:
            kv = await self.storage.get(f"/registry/serviceaccounts/{ns}/{name}")
        except storage.KeyNotFoundError:
            return None
        account: dict[str, Any] = orjson.loads(kv.value)
        return account


def should_automount(account: dict[str, Any] | None, spec: Obj) -> bool:
    """The pod's choice wins, then the account's; true when neither says."""
    if spec.get("automountServiceAccountToken") is not None:
        return bool(spec["automountServiceAccountToken"])
    if account is not None and account.get("automountServiceAccountToken") is not None:
        return bool(account["automountServiceAccountToken"])
    return True


def mount_token(spec: Obj) -> None:
    """Add the token volume (unless the pod has one) and mount it where nothing is mounted."""
    volumes: Any = spec.get("volumes") or []
    if not isinstance(volumes, list):
        return
    names = {v.get("name") for v in volumes if isinstance(v, dict)}
    existing = next((n for n in names if isinstance(n, str) and n.startswith(VOLUME_PREFIX)), None)
    volume_name = existing or _new_name(names)
    needed = False
    for key in ("initContainers", "containers"):
        for c in spec.get(key) or []:
            if not isinstance(c, dict):
                continue
            mounts = c.get("volumeMounts") or []
            if any(isinstance(m, dict) and m.get("mountPath") == MOUNT_PATH for m in mounts):
                continue
            c["volumeMounts"] = [
                *mounts,
                {"name": volume_name, "readOnly": True, "mountPath": MOUNT_PATH},
            ]
            needed = True
    if needed and existing is None:
        spec["volumes"] = [*volumes, token_volume(volume_name)]


def _new_name(taken: set[Any]) -> str:
    while True:
        name = VOLUME_PREFIX + "".join(secrets.choice(_SUFFIX_CHARS) for _ in range(5))
        if name not in taken:
            return name
