# ruff: noqa: E501
"""Table tests of ResourceQuota scopes and scope selectors: upstream's paths and messages."""

from __future__ import annotations

from typing import Any

import pytest

from pyk8s.api import validation


def rq(hard: dict[str, Any], **spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": "q"}, "spec": {"hard": hard, **spec}}


def sel(*reqs: dict[str, Any]) -> dict[str, Any]:
    return {"matchExpressions": list(reqs)}


CASES = [
    ("valid-scopes", rq({"pods": "10", "requests.cpu": "2"}, scopes=["NotTerminating", "NotBestEffort"]), []),
    ("valid-selector", rq({"pods": "10"}, scopeSelector=sel(
        {"scopeName": "PriorityClass", "operator": "In", "values": ["high"]},
        {"scopeName": "BestEffort", "operator": "Exists"})), []),
    ("unknown-scope", rq({"pods": "1"}, scopes=["Sometimes"]),
     ['spec.scopes: Invalid value: []core.ResourceQuotaScope{"Sometimes"}: unsupported scope']),
    ("scope-for-resource", rq({"requests.storage": "1Gi"}, scopes=["BestEffort"]),
     ['spec.scopes: Invalid value: []core.ResourceQuotaScope{"BestEffort"}: unsupported scope applied to resource']),
    ("conflicting", rq({"pods": "1"}, scopes=["BestEffort", "NotBestEffort"]),
     ['spec.scopes: Invalid value: []core.ResourceQuotaScope{"BestEffort", "NotBestEffort"}: conflicting scopes']),
    ("selector-operator", rq({"pods": "1"}, scopeSelector=sel({"scopeName": "Terminating", "operator": "In", "values": ["x"]})),
     ['spec.scopeSelector.matchExpressions.operator: Invalid value: "In": must be \'Exist\' when scope is any of '
      "ResourceQuotaScopeTerminating, ResourceQuotaScopeNotTerminating, ResourceQuotaScopeBestEffort, "
      "ResourceQuotaScopeNotBestEffort or ResourceQuotaScopeCrossNamespacePodAffinity"]),
    ("selector-values", rq({"pods": "1"}, scopeSelector=sel(
        {"scopeName": "PriorityClass", "operator": "NotIn"},
        {"scopeName": "PriorityClass", "operator": "Exists", "values": ["a"]},
        {"scopeName": "PriorityClass", "operator": "Gt", "values": ["a"]})),
     ["spec.scopeSelector.matchExpressions.values: Required value: must be at least one value when `operator` is 'In' or 'NotIn' for scope selector",
      'spec.scopeSelector.matchExpressions.values: Invalid value: []string{"a"}: must be no value when `operator` is \'Exist\' or \'DoesNotExist\' for scope selector',
      'spec.scopeSelector.matchExpressions.operator: Invalid value: "Gt": not a valid selector operator']),
    ("selector-scope", rq({"requests.storage": "1Gi"}, scopeSelector=sel(
        {"scopeName": "Terminating", "operator": "Exists"}, {"scopeName": "NotTerminating", "operator": "Exists"},
        {"scopeName": "Weekly", "operator": "Exists"})),
     ['spec.scopeSelector.matchExpressions: Invalid value: core.ScopeSelector{MatchExpressions:[]core.ScopedResourceSelectorRequirement{'
      'core.ScopedResourceSelectorRequirement{ScopeName:"Terminating", Operator:"Exists", Values:[]string(nil)}, '
      'core.ScopedResourceSelectorRequirement{ScopeName:"NotTerminating", Operator:"Exists", Values:[]string(nil)}, '
      'core.ScopedResourceSelectorRequirement{ScopeName:"Weekly", Operator:"Exists", Values:[]string(nil)}}}: unsupported scope applied to resource'] * 2
     + ['spec.scopeSelector.matchExpressions.scopeName: Invalid value: "Weekly": unsupported scope',
        'spec.scopeSelector.matchExpressions: Invalid value: core.ScopeSelector{MatchExpressions:[]core.ScopedResourceSelectorRequirement{'
        'core.ScopedResourceSelectorRequirement{ScopeName:"Terminating", Operator:"Exists", Values:[]string(nil)}, '
        'core.ScopedResourceSelectorRequirement{ScopeName:"NotTerminating", Operator:"Exists", Values:[]string(nil)}, '
        'core.ScopedResourceSelectorRequirement{ScopeName:"Weekly", Operator:"Exists", Values:[]string(nil)}}}: conflicting scopes']),
]  # fmt: skip


@pytest.mark.parametrize(("obj", "want"), [pytest.param(o, w, id=i) for i, o, w in CASES])
def test_resource_quota_scopes(obj: dict[str, Any], want: list[str]) -> None:
    assert [e.full() for e in validation.validate("", "ResourceQuota", obj)] == want
