"""Pod subresources that are not plain updates: ``binding`` and ``eviction``.

Mirrors ``pkg/registry/core/pod/storage/storage.go`` (``BindingREST.Create`` ->
``assignPod``/``setPodNodeAndMetadata``: set ``spec.nodeName`` once, add the
``PodScheduled`` condition, copy the binding's annotations; 409 when the pod is
already bound) and ``storage/eviction.go`` (``EvictionREST.Create``: refuse with
429 when a PodDisruptionBudget selecting the pod allows no disruption, else
delete the pod, honouring the eviction's DeleteOptions).
"""

from __future__ import annotations

import copy
from typing import Any

from pyk8s.api import errors, meta, selectors
from pyk8s.apiserver.registry.generic import store as generic
from pyk8s.apiserver.registry.generic.strategy import Obj, Strategy

_SUCCESS: Obj = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success"}


async def bind(pods: generic.Store, namespace: str, name: str, binding: Any) -> Obj:
    if not isinstance(binding, dict):
        raise errors.BadRequest("the body must be a Binding")
    md = binding.get("metadata") or {}
    if md.get("name") and md["name"] != name:
        raise errors.BadRequest(
            f"the name of the object ({md['name']}) does not match the name on the URL ({name})"
        )
    target = binding.get("target") or {}
    node = target.get("name", "")
    if not node:
        raise errors.Invalid.for_object("Binding", "", name, [errors.required("target.name")])
    if target.get("kind", "Node") not in ("", "Node"):
        raise errors.Invalid.for_object(
            "Binding",
            "",
            name,
            [errors.not_supported("target.kind", target.get("kind"), ["Node"])],
        )
    for _ in range(5):
        pod = await pods.get(namespace, name)
        spec = pod.setdefault("spec", {})
        if spec.get("nodeName"):
            raise errors.Conflict(
                f'Operation cannot be fulfilled on pods/binding "{name}": pod {name} is already '
                f'assigned to node "{spec["nodeName"]}"',
                details={"name": name, "kind": "pods/binding"},
            )
        if pod["metadata"].get("deletionTimestamp"):
            raise errors.Conflict(
                f'Operation cannot be fulfilled on pods/binding "{name}": pod {name} is being '
                "deleted, cannot be assigned to a host",
                details={"name": name, "kind": "pods/binding"},
            )
        uid = md.get("uid")
        if uid and uid != pod["metadata"].get("uid"):
            raise errors.Conflict(
                f'Operation cannot be fulfilled on pods/binding "{name}": the UID in the '
                "binding does not match the pod",
                details={"name": name, "kind": "pods/binding"},
            )
        bound = copy.deepcopy(pod)
        bound["spec"]["nodeName"] = node
        if md.get("annotations"):
            ann = bound["metadata"].setdefault("annotations", {})
            ann.update(md["annotations"])
        status = bound.setdefault("status", {})
        conds = [c for c in status.get("conditions") or [] if c.get("type") != "PodScheduled"]
        conds.append(
            {
                "type": "PodScheduled",
                "status": "True",
                "lastProbeTime": None,
                "lastTransitionTime": meta.now(),
            }
        )
        status["conditions"] = conds
        try:
            await pods.update(
                namespace,
                name,
                bound,
                generic.WriteOptions(field_manager="kube-scheduler"),
                strategy=_BindStrategy(pods.resource),
            )
        except errors.Conflict:
            continue
        return dict(_SUCCESS, code=201)
    raise errors.Conflict.for_object("pods", "", name, errors.OPTIMISTIC_LOCK_MESSAGE)


class _BindStrategy(Strategy):
    """Binding writes spec.nodeName and the PodScheduled condition, nothing else."""

    def prepare_for_update(self, obj: Obj, old: Obj) -> None:
        pass

    def validate_update(self, obj: Obj, old: Obj) -> list[errors.FieldError]:
        return []


async def evict(
    pods: generic.Store, pdbs: generic.Store, namespace: str, name: str, eviction: Any
) -> Obj:
    if not isinstance(eviction, dict):
        raise errors.BadRequest("the body must be an Eviction")
    pod = await pods.get(namespace, name)
    terminal = (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")
    if not terminal and not pod["metadata"].get("deletionTimestamp"):
        labels = pod["metadata"].get("labels") or {}
        listing = await pdbs.list(namespace, generic.ListOptions())
        for pdb in listing["items"]:
            sel = (pdb.get("spec") or {}).get("selector")
            try:
                matches = selectors.from_label_selector(sel).matches(labels)
            except selectors.SelectorError:
                continue
            if not matches or not sel:
                continue
            allowed = int((pdb.get("status") or {}).get("disruptionsAllowed") or 0)
            if allowed <= 0:
                pdb_name = pdb["metadata"]["name"]
                raise errors.TooManyRequests(
                    "Cannot evict pod as it would violate the pod's disruption budget.",
                    details={
                        "causes": [
                            {
                                "reason": "DisruptionBudget",
                                "message": f"The disruption budget {pdb_name} needs "
                                f"{(pdb.get('status') or {}).get('desiredHealthy', 0)} healthy "
                                f"pods and has {(pdb.get('status') or {}).get('currentHealthy', 0)}"
                                " currently",
                            }
                        ]
                    },
                )
    opts = eviction.get("deleteOptions") or {}
    pre = opts.get("preconditions") or {}
    await pods.delete(
        namespace,
        name,
        generic.DeleteOptions(
            grace_period_seconds=opts.get("gracePeriodSeconds"),
            propagation_policy=opts.get("propagationPolicy") or "",
            precondition_uid=pre.get("uid"),
            precondition_rv=pre.get("resourceVersion"),
            dry_run=opts.get("dryRun") == ["All"],
        ),
    )
    return dict(_SUCCESS, code=201)
