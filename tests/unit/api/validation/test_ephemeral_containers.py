"""``pods/ephemeralcontainers`` validation: upstream's field paths and words."""

from __future__ import annotations

import copy
from typing import Any

from pyk8s.api.validation import core


def _pod(*ephemeral: dict[str, Any]) -> dict[str, Any]:
    return {"metadata": {"name": "p"}, "spec": {
        "containers": [{"name": "app", "image": "busybox"}],
        "initContainers": [{"name": "init", "image": "busybox"}],
        "ephemeralContainers": list(ephemeral)}}  # fmt: skip


def _messages(errs: list[Any]) -> list[str]:
    return [f"{e.field}: {e.message()}" for e in errs]


def test_valid_ephemeral_container_targets_a_regular_or_init_container() -> None:
    for target in ("app", "init"):
        ec = {"name": "dbg", "image": "busybox", "targetContainerName": target,
              "stdin": True, "tty": True, "terminationMessagePolicy": "File"}  # fmt: skip
        assert core.ephemeral_containers_update(_pod(ec), _pod()) == []


def test_refused_fields_names_and_targets() -> None:
    ec = {"name": "app", "image": "busybox", "targetContainerName": "dbg2",
          "ports": [{"containerPort": 80}], "readinessProbe": {"exec": {"command": ["true"]}},
          "volumeMounts": [{"name": "v", "mountPath": "/v", "subPath": "x"}]}  # fmt: skip
    assert _messages(core.ephemeral_containers_update(_pod(ec), _pod())) == [
        'spec.ephemeralContainers[0].name: Duplicate value: "app"',
        'spec.ephemeralContainers[0].targetContainerName: Not found: "dbg2"',
        "spec.ephemeralContainers[0].ports: Forbidden: cannot be set for an Ephemeral Container",
        "spec.ephemeralContainers[0].readinessProbe: Forbidden: cannot be set for an Ephemeral "
        "Container",
        "spec.ephemeralContainers[0].volumeMounts[0].subPath: Forbidden: cannot be set for an "
        "Ephemeral Container",
    ]


def test_existing_ones_are_neither_changed_nor_removed() -> None:
    old = _pod({"name": "a", "image": "busybox"}, {"name": "b", "image": "busybox"})
    new = copy.deepcopy(old)
    new["spec"]["ephemeralContainers"] = [{"name": "a", "image": "nginx"}]
    assert _messages(core.ephemeral_containers_update(new, old)) == [
        'spec.ephemeralContainers: Forbidden: existing ephemeral containers "a" may not be '
        "changed\n",
        'spec.ephemeralContainers: Forbidden: existing ephemeral containers "b" may not be '
        "removed\n",
    ]
    mirror = copy.deepcopy(old)
    mirror["metadata"]["annotations"] = {"kubernetes.io/config.mirror": "x"}
    assert _messages(core.ephemeral_containers_update(old, mirror)) == [
        ": Forbidden: static pods do not support ephemeral containers"
    ]
