"""Job strategy: the generated selector.

Mirrors ``pkg/registry/batch/job/strategy.go`` (``PrepareForCreate`` calls
``generateSelectorIfNeeded``): unless ``spec.manualSelector`` is true, the pod template gets
the labels ``batch.kubernetes.io/job-name``/``job-name`` (the Job's name) and
``batch.kubernetes.io/controller-uid``/``controller-uid`` (its uid) where they are not set
already, and the selector matches ``batch.kubernetes.io/controller-uid``, so a Job's pods are
its own and no other Job's.
"""

from __future__ import annotations

from pyk8s.api import meta
from pyk8s.apiserver.registry.generic.strategy import Obj, Strategy

JOB_NAME_LABELS = ("job-name", "batch.kubernetes.io/job-name")
CONTROLLER_UID_LABELS = ("controller-uid", "batch.kubernetes.io/controller-uid")
CONTROLLER_UID = "batch.kubernetes.io/controller-uid"


def generate_selector(job: Obj) -> None:
    """``generateSelectorIfNeeded``: a user's own labels and selector entries are kept (a
    conflict is validation's to refuse)."""
    spec = job.get("spec")
    if not isinstance(spec, dict) or spec.get("manualSelector") is True:
        return
    md = meta.metadata(job)
    template = spec.get("template")
    if not isinstance(template, dict):
        template = spec["template"] = {}
    tmd = template.get("metadata")
    if not isinstance(tmd, dict):
        tmd = template["metadata"] = {}
    labels = tmd.get("labels")
    if not isinstance(labels, dict):
        labels = tmd["labels"] = {}
    for key in JOB_NAME_LABELS:
        labels.setdefault(key, md.get("name", ""))
    for key in CONTROLLER_UID_LABELS:
        labels.setdefault(key, md.get("uid", ""))
    selector = spec.get("selector")
    if not isinstance(selector, dict):
        selector = spec["selector"] = {}
    match = selector.get("matchLabels")
    if not isinstance(match, dict):
        match = selector["matchLabels"] = {}
    match.setdefault(CONTROLLER_UID, md.get("uid", ""))


class JobStrategy(Strategy):
    def prepare_for_create(self, obj: Obj) -> None:
        generate_selector(obj)
        super().prepare_for_create(obj)
