"""Semantic validation of apps/v1 and batch/v1 workloads.

Mirrors ``pkg/apis/apps/validation/validation.go`` (``ValidateDeploymentSpec``,
``ValidateReplicaSetSpec``, ``ValidateStatefulSetSpec``, ``ValidateDaemonSetSpec``:
a selector is required, must not be empty, must match the template's labels,
and is immutable in apps/v1; replicas are not negative) and
``pkg/apis/batch/validation`` (Job template restart policy, CronJob schedules).
"""

from __future__ import annotations

import re
from typing import Any

from pyk8s.api import cron, selectors
from pyk8s.api.errors import (
    FieldError,
    Raw,
    forbidden,
    go_label_selector,
    invalid_value,
    not_supported,
    required,
)
from pyk8s.api.validation import core

Obj = dict[str, Any]


def _non_negative(value: Any, path: str) -> list[FieldError]:
    if value is not None and (not isinstance(value, int) or value < 0):
        return [invalid_value(path, value, "must be greater than or equal to 0")]
    return []


def _selector_and_template(
    spec: Obj, template_path: str = "spec.template", kind: str = "deployment"
) -> list[FieldError]:
    """Upstream's selector checks then ``ValidatePodTemplateSpecForReplicaSet``: the template is a
    struct, never absent, so a missing one is validated as empty; a missing selector selects
    nothing, so it also fails to match the template's labels."""
    errs: list[FieldError] = []
    sel = spec.get("selector")
    tmpl = spec.get("template")
    tmpl = tmpl if isinstance(tmpl, dict) else {}
    labels = (tmpl.get("metadata") or {}).get("labels") or {}
    mismatch = invalid_value(
        f"{template_path}.metadata.labels",
        labels or None,
        "`selector` does not match template `labels`",
    )
    if not isinstance(sel, dict):
        errs += [required("spec.selector"), mismatch]
    elif not sel.get("matchLabels") and not sel.get("matchExpressions"):
        errs.append(invalid_value("spec.selector", sel, f"empty selector is invalid for {kind}"))
    else:
        try:
            matches = selectors.from_label_selector(sel).matches(labels)
        except selectors.SelectorError as e:
            errs.append(invalid_value("spec.selector", sel, str(e)))
        else:
            if not matches:
                errs.append(mismatch)
    if kind != "statefulset":  # upstream leaves a StatefulSet's pod spec unvalidated (a TODO)
        errs += core.pod_spec(tmpl.get("spec"), f"{template_path}.spec")
    return errs


def workload(obj: Obj) -> list[FieldError]:
    spec = obj.get("spec") or {}
    # upstream's ReplicaSet validation reuses the Deployment wording
    kind = "statefulset" if obj.get("kind") == "StatefulSet" else "deployment"
    return _non_negative(spec.get("replicas"), "spec.replicas") + _selector_and_template(
        spec, kind=kind
    )


def deployment(obj: Obj) -> list[FieldError]:
    return workload(obj) + _deployment_spec(obj.get("spec") or {})


_PERCENT = re.compile(r"^[0-9]+%$")
_PERCENT_MSG = (
    "a valid percent string must be a numeric string followed by an ending '%' "
    "(e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')"
)


def _int_or_percent(value: Any, path: str) -> list[FieldError]:
    """``ValidatePositiveIntOrPercent`` (an IntOrString prints unquoted: it is a Stringer)."""
    if isinstance(value, str):
        if not _PERCENT.match(value):
            return [invalid_value(path, Raw(value), _PERCENT_MSG)]
        return []
    return _non_negative(value, path)


def _int_or_percent_value(value: Any) -> int:
    """``getIntOrPercentValue``: what is not a number counts as 0."""
    if isinstance(value, str):
        text = value[:-1] if _PERCENT.match(value) else value
        try:
            return int(text)
        except ValueError:
            return 0
    return value if isinstance(value, int) else 0


def _deployment_strategy(strategy: Any) -> list[FieldError]:
    """``ValidateDeploymentStrategy`` and ``ValidateRollingUpdateDeployment``."""
    path = "spec.strategy"
    strategy = strategy if isinstance(strategy, dict) else {}
    kind = strategy.get("type")
    rolling = strategy.get("rollingUpdate")
    if kind is None:
        return []  # defaulting always sets it (RollingUpdate)
    if kind == "Recreate":
        if rolling is not None:
            return [
                forbidden(
                    f"{path}.rollingUpdate",
                    "may not be specified when strategy `type` is 'Recreate'",
                )
            ]
        return []
    if kind == "RollingUpdate":
        if not isinstance(rolling, dict):
            return [required(f"{path}.rollingUpdate", "this should be defaulted and never be nil")]
        errs: list[FieldError] = []
        unavailable, surge = rolling.get("maxUnavailable"), rolling.get("maxSurge")
        errs += _int_or_percent(unavailable, f"{path}.rollingUpdate.maxUnavailable")
        errs += _int_or_percent(surge, f"{path}.rollingUpdate.maxSurge")
        if _int_or_percent_value(unavailable) == 0 and _int_or_percent_value(surge) == 0:
            shown = Raw(unavailable) if isinstance(unavailable, str) else unavailable or 0
            errs.append(
                invalid_value(
                    f"{path}.rollingUpdate.maxUnavailable",
                    shown,
                    "may not be 0 when `maxSurge` is 0",
                )
            )
        if (
            isinstance(unavailable, str)
            and _PERCENT.match(unavailable)
            and (_int_or_percent_value(unavailable) > 100)
        ):
            errs.append(
                invalid_value(
                    f"{path}.rollingUpdate.maxUnavailable",
                    Raw(unavailable),
                    "must not be greater than 100%",
                )
            )
        return errs
    shown = Raw(
        f'apps.DeploymentStrategy{{Type:"{kind or ""}", '
        f"RollingUpdate:(*apps.RollingUpdateDeployment)(nil)}}"
    )
    return [not_supported(path, shown, ["Recreate", "RollingUpdate"])]


def _deployment_spec(spec: Obj) -> list[FieldError]:
    """The rest of ``ValidateDeploymentSpec``: strategy, minReadySeconds,
    revisionHistoryLimit, progressDeadlineSeconds."""
    errs = _deployment_strategy(spec.get("strategy"))
    min_ready = spec.get("minReadySeconds")
    errs += _non_negative(min_ready, "spec.minReadySeconds")
    errs += _non_negative(spec.get("revisionHistoryLimit"), "spec.revisionHistoryLimit")
    deadline = spec.get("progressDeadlineSeconds")
    if isinstance(deadline, int):
        errs += _non_negative(deadline, "spec.progressDeadlineSeconds")
        if deadline <= (min_ready if isinstance(min_ready, int) else 0):
            errs.append(
                invalid_value(
                    "spec.progressDeadlineSeconds",
                    deadline,
                    "must be greater than minReadySeconds",
                )
            )
    return errs


def daemonset(obj: Obj) -> list[FieldError]:
    errs = _selector_and_template(obj.get("spec") or {}, kind="daemonset")
    policy = ((((obj.get("spec") or {}).get("template") or {}).get("spec")) or {}).get(
        "restartPolicy"
    )
    if policy not in (None, "Always"):
        errs.append(not_supported("spec.template.spec.restartPolicy", policy, ["Always"]))
    return errs


def selector_immutable(obj: Obj, old: Obj) -> list[FieldError]:
    new_sel = (obj.get("spec") or {}).get("selector")
    old_sel = (old.get("spec") or {}).get("selector")
    if new_sel != old_sel:
        return [invalid_value("spec.selector", go_label_selector(new_sel), "field is immutable")]
    return []


def job(obj: Obj) -> list[FieldError]:
    spec = obj.get("spec") or {}
    errs = _non_negative(spec.get("parallelism"), "spec.parallelism")
    errs += _non_negative(spec.get("completions"), "spec.completions")
    errs += _non_negative(spec.get("backoffLimit"), "spec.backoffLimit")
    tmpl = spec.get("template")
    if not isinstance(tmpl, dict):
        return [*errs, required("spec.template")]
    policy = (tmpl.get("spec") or {}).get("restartPolicy")
    if policy not in ("OnFailure", "Never"):
        errs.append(
            not_supported("spec.template.spec.restartPolicy", policy, ["OnFailure", "Never"])
        )
    errs += core.pod_spec(tmpl.get("spec"), "spec.template.spec")
    return errs


_SCHEDULING_DIRECTIVES = ("nodeSelector", "tolerations", "affinity", "schedulingGates")


def _template_for_compare(tmpl: Any, directives_mutable: bool) -> Any:
    """A Job's pod template as ``validatePodTemplateUpdate`` compares it: a suspended Job
    that never started may change its scheduling directives, labels and annotations."""
    if not directives_mutable or not isinstance(tmpl, dict):
        return tmpl
    md = {
        k: v for k, v in (tmpl.get("metadata") or {}).items() if k not in ("labels", "annotations")
    }
    spec = {k: v for k, v in (tmpl.get("spec") or {}).items() if k not in _SCHEDULING_DIRECTIVES}
    return {**tmpl, "metadata": md, "spec": spec}


def job_update(obj: Obj, old: Obj) -> list[FieldError]:
    """``ValidateJobSpecUpdate``: completions (of a non-indexed Job), the selector, the pod
    template and the other fields that shape the Job's pods are immutable."""
    spec, old_spec = obj.get("spec") or {}, old.get("spec") or {}
    errs: list[FieldError] = []
    if spec.get("completionMode") != "Indexed" and spec.get("completions") != old_spec.get(
        "completions"
    ):
        errs.append(
            invalid_value("spec.completions", spec.get("completions"), "field is immutable")
        )
    if spec.get("selector") != old_spec.get("selector"):
        errs.append(
            invalid_value(
                "spec.selector", go_label_selector(spec.get("selector")), "field is immutable"
            )
        )
    mutable = bool(old_spec.get("suspend")) and not (old.get("status") or {}).get("startTime")
    if _template_for_compare(spec.get("template"), mutable) != _template_for_compare(
        old_spec.get("template"), mutable
    ):
        # upstream prints the whole internal core.PodTemplateSpec with %#v here
        errs.append(
            invalid_value("spec.template", Raw("core.PodTemplateSpec{...}"), "field is immutable")
        )
    for key in ("completionMode", "podFailurePolicy", "backoffLimitPerIndex", "managedBy",
                "successPolicy", "podReplacementPolicy"):  # fmt: skip
        if spec.get(key) != old_spec.get(key):
            value = spec.get(key)
            shown = value if isinstance(value, (str, int)) or value is None else Raw(str(value))
            errs.append(invalid_value(f"spec.{key}", shown, "field is immutable"))
    return errs


def cronjob(obj: Obj) -> list[FieldError]:
    spec = obj.get("spec") or {}
    errs: list[FieldError] = []
    schedule = spec.get("schedule")
    if not schedule:
        errs.append(required("spec.schedule"))
    else:
        try:
            cron.parse(str(schedule))
        except cron.CronError as e:
            errs.append(invalid_value("spec.schedule", schedule, str(e)))
        if "TZ" in str(schedule):
            errs.append(
                invalid_value(
                    "spec.schedule",
                    schedule,
                    "cannot use TZ or CRON_TZ in schedule, use timeZone field instead",
                )
            )
    policy = spec.get("concurrencyPolicy")
    if policy is not None and policy not in ("Allow", "Forbid", "Replace"):
        errs.append(not_supported("spec.concurrencyPolicy", policy, ["Allow", "Forbid", "Replace"]))
    jt = spec.get("jobTemplate")
    if not isinstance(jt, dict):
        errs.append(required("spec.jobTemplate"))
    else:
        inner = job({"spec": jt.get("spec") or {}})
        errs += [
            FieldError(e.type, "spec.jobTemplate." + e.field, e.detail, e.value, e.show_value)
            for e in inner
        ]
    return errs
