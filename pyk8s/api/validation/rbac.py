"""Semantic validation of rbac.authorization.k8s.io/v1 objects.

Mirrors ``pkg/apis/rbac/validation/validation.go``: every rule names verbs, and
resource rules name API groups and resources (``ValidatePolicyRule``); a
namespaced Role cannot grant non-resource URLs; an aggregated ClusterRole names
its selectors; a binding refers to a Role or ClusterRole of the RBAC group,
its ``roleRef`` cannot change, and each subject is a ServiceAccount (with a
namespace in a ClusterRoleBinding), a User or a Group (``ValidateRoleBinding``,
``ValidateRoleBindingSubject``).
"""

from __future__ import annotations

from typing import Any

from pyk8s.api import meta, selectors
from pyk8s.api.errors import FieldError, Raw, invalid_value, not_supported, required

Obj = dict[str, Any]
GROUP = "rbac.authorization.k8s.io"


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _rule(rule: Any, path: str, *, namespaced: bool) -> list[FieldError]:
    rule = rule if isinstance(rule, dict) else {}
    errs: list[FieldError] = []
    if not _list(rule.get("verbs")):
        errs.append(required(f"{path}.verbs", "verbs must contain at least one value"))
    urls = _list(rule.get("nonResourceURLs"))
    if urls:
        if namespaced:
            errs.append(
                invalid_value(
                    f"{path}.nonResourceURLs",
                    _go_strings(urls),
                    "namespaced rules cannot apply to non-resource URLs",
                )
            )
        if rule.get("apiGroups") or rule.get("resources") or rule.get("resourceNames"):
            errs.append(
                invalid_value(
                    f"{path}.nonResourceURLs",
                    _go_strings(urls),
                    "rules cannot apply to both regular resources and non-resource URLs",
                )
            )
        return errs
    if not _list(rule.get("apiGroups")):
        errs.append(
            required(f"{path}.apiGroups", "resource rules must supply at least one api group")
        )
    if not _list(rule.get("resources")):
        errs.append(
            required(f"{path}.resources", "resource rules must supply at least one resource")
        )
    return errs


def _go_strings(values: list[Any]) -> Raw:
    # a []string printed with %#v
    return Raw("[]string{" + ", ".join(f'"{v}"' for v in values) + "}")


def role(obj: Obj) -> list[FieldError]:
    errs: list[FieldError] = []
    for i, r in enumerate(_list(obj.get("rules"))):
        errs += _rule(r, f"rules[{i}]", namespaced=True)
    return errs


def cluster_role(obj: Obj) -> list[FieldError]:
    errs: list[FieldError] = []
    for i, r in enumerate(_list(obj.get("rules"))):
        errs += _rule(r, f"rules[{i}]", namespaced=False)
    agg = obj.get("aggregationRule")
    if isinstance(agg, dict):
        sels = _list(agg.get("clusterRoleSelectors"))
        if not sels:
            errs.append(
                required(
                    "aggregationRule.clusterRoleSelectors",
                    "at least one clusterRoleSelector required if aggregationRule is non-nil",
                )
            )
        for i, sel in enumerate(sels):
            try:
                selectors.from_label_selector(sel if isinstance(sel, dict) else {})
            except selectors.SelectorError as e:
                errs.append(
                    invalid_value(f"aggregationRule.clusterRoleSelectors[{i}]", sel, str(e))
                )
    return errs


def _subject(subject: Any, path: str, *, namespaced: bool) -> list[FieldError]:
    subject = subject if isinstance(subject, dict) else {}
    errs: list[FieldError] = []
    name = subject.get("name") or ""
    if not name:
        errs.append(required(f"{path}.name"))
    kind = subject.get("kind") or ""
    group = subject.get("apiGroup") or ""
    if kind == "ServiceAccount":
        if name:
            errs += [invalid_value(f"{path}.name", name, m) for m in meta.dns1123_subdomain(name)]
        if group:
            errs.append(not_supported(f"{path}.apiGroup", group, [""]))
        if not namespaced and not subject.get("namespace"):
            errs.append(required(f"{path}.namespace"))
    elif kind in ("User", "Group"):
        if group != GROUP:
            errs.append(not_supported(f"{path}.apiGroup", group, [GROUP]))
    else:
        errs.append(not_supported(f"{path}.kind", kind, ["ServiceAccount", "User", "Group"]))
    return errs


def _binding(obj: Obj, *, namespaced: bool) -> list[FieldError]:
    errs: list[FieldError] = []
    ref = obj.get("roleRef")
    ref = ref if isinstance(ref, dict) else {}
    if (ref.get("apiGroup") or "") != GROUP:
        errs.append(not_supported("roleRef.apiGroup", ref.get("apiGroup") or "", [GROUP]))
    kinds = ["Role", "ClusterRole"] if namespaced else ["ClusterRole"]
    if ref.get("kind") not in kinds:
        errs.append(not_supported("roleRef.kind", ref.get("kind") or "", kinds))
    name = ref.get("name") or ""
    if not name:
        errs.append(required("roleRef.name"))
    else:
        errs += [invalid_value("roleRef.name", name, m) for m in meta.path_segment_name(name)]
    for i, s in enumerate(_list(obj.get("subjects"))):
        errs += _subject(s, f"subjects[{i}]", namespaced=namespaced)
    return errs


def role_binding(obj: Obj) -> list[FieldError]:
    return _binding(obj, namespaced=True)


def cluster_role_binding(obj: Obj) -> list[FieldError]:
    return _binding(obj, namespaced=False)


def _role_ref(ref: Any) -> Raw:
    ref = ref if isinstance(ref, dict) else {}
    return Raw(
        f'rbac.RoleRef{{APIGroup:"{ref.get("apiGroup") or ""}", Kind:"{ref.get("kind") or ""}", '
        f'Name:"{ref.get("name") or ""}"}}'
    )


def binding_update(obj: Obj, old: Obj) -> list[FieldError]:
    if (obj.get("roleRef") or {}) != (old.get("roleRef") or {}):
        return [invalid_value("roleRef", _role_ref(obj.get("roleRef")), "cannot change roleRef")]
    return []
