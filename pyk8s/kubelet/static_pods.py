"""Static pods: pods from manifest files on the node, and their mirror pods in the API.

Mirrors ``pkg/kubelet/config/file.go`` (every ``*.yaml``/``*.yml``/``*.json`` of the manifest
directory, re-read periodically) and ``common.go`` (``applyDefaults``: the name gets ``-<node>``,
the UID is a hash of the manifest and the node, ``spec.nodeName`` is this node, the
``kubernetes.io/config.{hash,source,seen}`` annotations), ``pkg/kubelet/pod/mirror_client.go``
(``CreateMirrorPod`` with the ``kubernetes.io/config.mirror`` annotation and the Node as owner;
``DeleteMirrorPod``). The kubelet runs the static pod itself; the mirror pod only shows it in
the API (its status is the static pod's) and is recreated when deleted.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

log = logging.getLogger(__name__)

Obj = dict[str, Any]
HASH = "kubernetes.io/config.hash"
MIRROR = "kubernetes.io/config.mirror"
SOURCE = "kubernetes.io/config.source"
SEEN = "kubernetes.io/config.seen"
EXTENSIONS = (".yaml", ".yml", ".json")


def is_mirror(pod: Mapping[str, Any]) -> bool:
    return MIRROR in ((pod.get("metadata") or {}).get("annotations") or {})


def is_static(pod: Mapping[str, Any]) -> bool:
    """``IsStaticPod``: a pod the kubelet read from a file, not from the API."""
    source = ((pod.get("metadata") or {}).get("annotations") or {}).get(SOURCE, "api")
    return bool(source != "api")


def static_uid(pod: Mapping[str, Any]) -> str:
    """The UID the kubelet runs a mirror pod's static pod under (its ``config.mirror``)."""
    return str(((pod.get("metadata") or {}).get("annotations") or {}).get(MIRROR, ""))


def apply_defaults(doc: Obj, node_name: str, source: str) -> Obj:
    pod = copy.deepcopy(doc)
    meta = pod.setdefault("metadata", {})
    if not meta.get("name"):
        raise ValueError("a static pod needs metadata.name")
    digest = hashlib.md5(usedforsecurity=False)
    digest.update(json.dumps(doc, sort_keys=True).encode())
    digest.update(node_name.encode())
    digest.update(source.encode())
    uid = digest.hexdigest()
    meta["name"] = f"{meta['name']}-{node_name}"
    meta["namespace"] = meta.get("namespace") or "default"
    meta["uid"] = uid
    annotations = meta.setdefault("annotations", {})
    annotations[HASH] = uid
    annotations[SOURCE] = "file"
    spec = pod.setdefault("spec", {})
    spec["nodeName"] = node_name
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("tolerations", []).append({"operator": "Exists", "effect": "NoExecute"})
    pod["apiVersion"], pod["kind"] = "v1", "Pod"
    pod.setdefault("status", {})
    return pod


def read_manifests(directory: Path, node_name: str) -> dict[str, Obj]:
    """Every valid static pod of the directory by UID (blocking); bad files are logged."""
    out: dict[str, Obj] = {}
    try:
        files = sorted(p for p in directory.iterdir() if p.suffix in EXTENSIONS)
    except FileNotFoundError:
        return out
    for path in files:
        if path.name.startswith("."):
            continue
        try:
            doc = yaml.safe_load(path.read_text())
            if not isinstance(doc, dict) or doc.get("kind", "Pod") != "Pod":
                raise ValueError("not a Pod")
            pod = apply_defaults(doc, node_name, str(path))
        except (OSError, ValueError, yaml.YAMLError) as e:
            log.warning("static pod manifest %s: %s", path, e)
            continue
        out[pod["metadata"]["uid"]] = pod
    return out


def mirror_pod(static: Obj, node: Mapping[str, Any]) -> Obj:
    """The API object that shows ``static``; owned by the Node."""
    pod = copy.deepcopy(static)
    meta = pod["metadata"]
    meta.pop("uid", None)
    meta.pop("resourceVersion", None)
    meta["annotations"][MIRROR] = meta["annotations"][HASH]
    nmeta = node.get("metadata") or {}
    if nmeta.get("uid"):
        meta["ownerReferences"] = [
            {"apiVersion": "v1", "kind": "Node", "name": nmeta["name"], "uid": nmeta["uid"],
             "controller": False}
        ]  # fmt: skip
    pod["status"] = {}
    return pod
