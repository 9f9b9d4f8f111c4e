"""KubeSchedulerConfiguration (kubescheduler.config.k8s.io/v1): parse, default, validate.

Mirrors ``pkg/scheduler/apis/config/v1/{defaults.go,default_plugins.go}`` and
``apis/config/validation/validation.go``. Each profile's plugins are the default
multiPoint set merged with the file's: a ``disabled`` entry (or ``*``) removes
defaults, an ``enabled`` entry with a default's name replaces it in place (new
weight), others are appended. Plugin args are the defaults overlaid with the
file's ``pluginConfig``. Every error names the field, as upstream's field paths do
(``profiles[0].plugins.score.enabled[1].weight: Invalid value: ...``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from pyk8s.scheduler.framework.runtime import (
    EXTENSION_POINTS,
    Framework,
    FrameworkError,
    PluginFactory,
    PluginSet,
    Seams,
)
from pyk8s.scheduler.framework.types import Obj

API_VERSION = "kubescheduler.config.k8s.io/v1"
KIND = "KubeSchedulerConfiguration"
DEFAULT_SCHEDULER_NAME = "default-scheduler"

# getDefaultPlugins: the multiPoint set and the default score weights.
DEFAULT_PLUGINS: tuple[tuple[str, int], ...] = (
    ("SchedulingGates", 0),
    ("PrioritySort", 0),
    ("NodeUnschedulable", 0),
    ("NodeName", 0),
    ("TaintToleration", 3),
    ("NodeAffinity", 2),
    ("NodePorts", 0),
    ("NodeResourcesFit", 1),
    ("VolumeBinding", 0),
    ("PodTopologySpread", 2),
    ("InterPodAffinity", 2),
    ("DefaultPreemption", 0),
    ("NodeResourcesBalancedAllocation", 1),
    ("ImageLocality", 1),
    ("DefaultBinder", 0),
)

DEFAULT_PLUGIN_ARGS: dict[str, dict[str, Any]] = {
    "DefaultPreemption": {"minCandidateNodesPercentage": 10, "minCandidateNodesAbsolute": 100},
    "InterPodAffinity": {"hardPodAffinityWeight": 1, "ignorePreferredTermsOfExistingPods": False},
    "NodeAffinity": {},
    "NodeResourcesBalancedAllocation": {
        "resources": [{"name": "cpu", "weight": 1}, {"name": "memory", "weight": 1}]
    },
    "NodeResourcesFit": {
        "scoringStrategy": {
            "type": "LeastAllocated",
            "resources": [{"name": "cpu", "weight": 1}, {"name": "memory", "weight": 1}],
        }
    },
    "PodTopologySpread": {"defaultingType": "System"},
}

_POINTS = ("multiPoint", *EXTENSION_POINTS)
_TOP_FIELDS = {
    "apiVersion",
    "kind",
    "parallelism",
    "leaderElection",
    "clientConnection",
    "healthzBindAddress",
    "metricsBindAddress",
    "enableProfiling",
    "enableContentionProfiling",
    "percentageOfNodesToScore",
    "podInitialBackoffSeconds",
    "podMaxBackoffSeconds",
    "profiles",
    "extenders",
    "delayCacheUntilActive",
}
_PROFILE_FIELDS = {"schedulerName", "percentageOfNodesToScore", "plugins", "pluginConfig"}
_LEADER_ELECTION_FIELDS = {
    "leaderElect",
    "leaseDuration",
    "renewDeadline",
    "retryPeriod",
    "resourceLock",
    "resourceName",
    "resourceNamespace",
}


class ConfigError(ValueError):
    """An invalid configuration; the message names the field(s)."""

    def __init__(self, errors: Sequence[str]) -> None:
        self.errors = list(errors)
        super().__init__(
            "; ".join(self.errors) if len(self.errors) == 1 else "[" + ", ".join(self.errors) + "]"
        )


@dataclass
class Profile:
    scheduler_name: str = DEFAULT_SCHEDULER_NAME
    percentage_of_nodes_to_score: int | None = None
    plugins: dict[str, PluginSet] = field(default_factory=dict)
    plugin_args: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass
class LeaderElection:
    leader_elect: bool = True
    lease_duration: float = 15.0
    renew_deadline: float = 10.0
    retry_period: float = 2.0
    resource_name: str = "kube-scheduler"
    resource_namespace: str = "kube-system"
    resource_lock: str = "leases"


@dataclass
class KubeSchedulerConfiguration:
    parallelism: int = 16
    percentage_of_nodes_to_score: int = 0
    pod_initial_backoff_seconds: float = 1.0
    pod_max_backoff_seconds: float = 10.0
    leader_election: LeaderElection = field(default_factory=LeaderElection)
    kubeconfig: str = ""
    profiles: list[Profile] = field(default_factory=lambda: [default_profile()])


def default_profile(name: str = DEFAULT_SCHEDULER_NAME) -> Profile:
    return Profile(
        scheduler_name=name,
        plugins={"multiPoint": PluginSet(list(DEFAULT_PLUGINS))},
        plugin_args={k: dict(v) for k, v in DEFAULT_PLUGIN_ARGS.items()},
    )


def _duration(value: Any, path: str, errors: list[str]) -> float:
    """Go duration strings as the config carries them ("15s", "1m30s", "500ms")."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, str):
        errors.append(f"{path}: Invalid value: {value!r}: must be a duration")
        return 0.0
    import re

    units = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001, "us": 1e-6, "µs": 1e-6, "ns": 1e-9}
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|us|µs|ns|h|m|s)", value)
    if not parts or "".join(n + u for n, u in parts) != value:
        errors.append(f"{path}: Invalid value: {value!r}: must be a duration such as 15s")
        return 0.0
    return sum(float(n) * units[u] for n, u in parts)


def parse_duration(value: str) -> float:
    """A Go duration ("15s", "1m30s") in seconds, or ValueError (for command-line flags)."""
    errors: list[str] = []
    seconds = _duration(value, "duration", errors)
    if errors:
        raise ValueError(f"invalid duration {value!r}: use a Go duration such as 15s or 1m30s")
    return seconds


def _int(value: Any, path: str, errors: list[str]) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int):
        errors.append(f"{path}: Invalid value: {value!r}: must be an integer")
        return None
    return value


def _unknown(obj: Mapping[str, Any], known: set[str], path: str, errors: list[str]) -> None:
    for k in obj:
        if k not in known:
            full = f"{path}.{k}" if path else k
            errors.append(f'strict decoding error: unknown field "{full}"')


def _plugin_set(raw: Any, path: str, errors: list[str]) -> PluginSet:
    ps = PluginSet()
    if raw is None:
        return ps
    if not isinstance(raw, Mapping):
        errors.append(f"{path}: Invalid value: must be an object with enabled and disabled")
        return ps
    _unknown(raw, {"enabled", "disabled"}, path, errors)
    for kind in ("enabled", "disabled"):
        for i, entry in enumerate(raw.get(kind) or ()):
            p = f"{path}.{kind}[{i}]"
            if not isinstance(entry, Mapping):
                errors.append(f"{p}: Invalid value: must be an object with a name")
                continue
            _unknown(entry, {"name", "weight"}, p, errors)
            name = entry.get("name")
            if not name or not isinstance(name, str):
                errors.append(f"{p}.name: Required value")
                continue
            if kind == "disabled":
                ps.disabled.append(name)
                continue
            weight = entry.get("weight", 0)
            w = _int(weight, f"{p}.weight", errors)
            if w is None:
                continue
            if w < 0:
                errors.append(f"{p}.weight: Invalid value: {w}: must be a non-negative integer")
                continue
            ps.enabled.append((name, w))
    return ps


def merge_plugin_set(default: PluginSet, custom: PluginSet) -> PluginSet:
    """``mergePluginSet``: custom disables and re-enables applied over the defaults."""
    disabled = set(custom.disabled)
    custom_enabled = dict(custom.enabled)
    out = PluginSet(disabled=list(custom.disabled))
    replaced: set[str] = set()
    if "*" not in disabled:
        for name, weight in default.enabled:
            if name in disabled:
                continue
            if name in custom_enabled:
                out.enabled.append((name, custom_enabled[name]))
                replaced.add(name)
            else:
                out.enabled.append((name, weight))
    out.enabled += [(n, w) for n, w in custom.enabled if n not in replaced]
    return out


def _profile(raw: Any, path: str, errors: list[str]) -> Profile:
    prof = default_profile()
    if not isinstance(raw, Mapping):
        errors.append(f"{path}: Invalid value: must be an object")
        return prof
    _unknown(raw, _PROFILE_FIELDS, path, errors)
    prof.scheduler_name = raw.get("schedulerName") or DEFAULT_SCHEDULER_NAME
    if not isinstance(prof.scheduler_name, str):
        errors.append(f"{path}.schedulerName: Invalid value: must be a string")
    if "percentageOfNodesToScore" in raw and raw["percentageOfNodesToScore"] is not None:
        pct = _int(raw["percentageOfNodesToScore"], f"{path}.percentageOfNodesToScore", errors)
        if pct is not None and not 0 <= pct <= 100:
            errors.append(
                f"{path}.percentageOfNodesToScore: Invalid value: {pct}: not in valid range [0-100]"
            )
        prof.percentage_of_nodes_to_score = pct
    plugins = raw.get("plugins") or {}
    if not isinstance(plugins, Mapping):
        errors.append(f"{path}.plugins: Invalid value: must be an object")
        plugins = {}
    _unknown(plugins, set(_POINTS), f"{path}.plugins", errors)
    merged: dict[str, PluginSet] = {}
    for point in _POINTS:
        custom = _plugin_set(plugins.get(point), f"{path}.plugins.{point}", errors)
        default = prof.plugins.get(point, PluginSet())
        m = merge_plugin_set(default, custom)
        if m.enabled or m.disabled:
            merged[point] = m
    prof.plugins = merged
    seen: set[str] = set()
    for i, pc in enumerate(raw.get("pluginConfig") or ()):
        p = f"{path}.pluginConfig[{i}]"
        if not isinstance(pc, Mapping):
            errors.append(f"{p}: Invalid value: must be an object with name and args")
            continue
        _unknown(pc, {"name", "args"}, p, errors)
        name = pc.get("name")
        if not name:
            errors.append(f"{p}.name: Required value")
            continue
        if name in seen:
            errors.append(f"{p}.name: Duplicate value: {name!r}")
            continue
        seen.add(name)
        args = pc.get("args") or {}
        if not isinstance(args, Mapping):
            errors.append(f"{p}.args: Invalid value: must be an object")
            continue
        args = {k: v for k, v in args.items() if k not in ("apiVersion", "kind")}
        base = dict(DEFAULT_PLUGIN_ARGS.get(name, {}))
        base.update(args)
        _validate_args(name, base, f"{p}.args", errors)
        prof.plugin_args[name] = base
    return prof


_ARG_FIELDS = {
    "DefaultPreemption": {"minCandidateNodesPercentage", "minCandidateNodesAbsolute"},
    "InterPodAffinity": {"hardPodAffinityWeight", "ignorePreferredTermsOfExistingPods"},
    "NodeAffinity": {"addedAffinity"},
    "NodeResourcesBalancedAllocation": {"resources"},
    "NodeResourcesFit": {"ignoredResources", "ignoredResourceGroups", "scoringStrategy"},
    "PodTopologySpread": {"defaultConstraints", "defaultingType"},
}
_WHEN_UNSATISFIABLE = ("DoNotSchedule", "ScheduleAnyway")


def _validate_default_constraints(raw: Any, path: str, errors: list[str]) -> None:
    """``ValidatePodTopologySpreadArgs``: the constraints every pod without its own gets."""
    if not isinstance(raw, list):
        errors.append(f"{path}: Invalid value: must be a list")
        return
    seen: set[tuple[Any, Any]] = set()
    for i, c in enumerate(raw):
        p = f"{path}[{i}]"
        if not isinstance(c, Mapping):
            errors.append(f"{p}: Invalid value: must be an object")
            continue
        skew = c.get("maxSkew")
        if isinstance(skew, bool) or not isinstance(skew, int) or skew <= 0:
            errors.append(f"{p}.maxSkew: Invalid value: {skew!r}: must be greater than zero")
        if not c.get("topologyKey"):
            errors.append(f"{p}.topologyKey: Required value: can not be empty")
        when = c.get("whenUnsatisfiable")
        if not when:
            errors.append(f"{p}.whenUnsatisfiable: Required value: can not be empty")
        elif when not in _WHEN_UNSATISFIABLE:
            errors.append(
                f'{p}.whenUnsatisfiable: Unsupported value: "{when}": supported values: '
                '"DoNotSchedule", "ScheduleAnyway"'
            )
        if c.get("labelSelector") is not None:
            errors.append(
                f"{p}.labelSelector: Forbidden: constraint must not define a selector, "
                "as they deduced for each pod"
            )
        pair = (c.get("topologyKey"), when)
        if pair in seen:
            errors.append(f'{p}: Duplicate value: "{{{pair[0]}, {pair[1]}}}"')
        seen.add(pair)


def _validate_args(name: str, args: dict[str, Any], path: str, errors: list[str]) -> None:
    known = _ARG_FIELDS.get(name)
    if known is not None:
        _unknown(args, known, path, errors)
    if name == "DefaultPreemption":
        pct = args.get("minCandidateNodesPercentage", 10)
        absolute = args.get("minCandidateNodesAbsolute", 100)
        if isinstance(pct, bool) or not isinstance(pct, int) or not 0 <= pct <= 100:
            errors.append(
                f"{path}.minCandidateNodesPercentage: Invalid value: {pct!r}: "
                "not in valid range [0, 100]"
            )
        if isinstance(absolute, bool) or not isinstance(absolute, int) or absolute < 0:
            errors.append(
                f"{path}.minCandidateNodesAbsolute: Invalid value: {absolute!r}: "
                "not in valid range [0, inf)"
            )
        if pct == 0 and absolute == 0:
            errors.append(
                f"{path}.minCandidateNodesPercentage: Invalid value: 0: cannot be zero at the "
                "same time as minCandidateNodesAbsolute"
            )
    elif name == "NodeResourcesFit":
        for i, group in enumerate(args.get("ignoredResourceGroups") or ()):
            if "/" in str(group):
                errors.append(
                    f'{path}.ignoredResourceGroups[{i}]: Invalid value: "{group}": '
                    "resource group name can't contain '/'"
                )
        strategy = args.get("scoringStrategy") or {}
        t = strategy.get("type", "LeastAllocated")
        if t not in ("LeastAllocated", "MostAllocated", "RequestedToCapacityRatio"):
            errors.append(
                f'{path}.scoringStrategy.type: Unsupported value: "{t}": supported values: '
                '"LeastAllocated", "MostAllocated", "RequestedToCapacityRatio"'
            )
        for i, r in enumerate(strategy.get("resources") or ()):
            w = r.get("weight", 1)
            if isinstance(w, bool) or not isinstance(w, int) or not 1 <= w <= 100:
                errors.append(
                    f"{path}.scoringStrategy.resources[{i}].weight: Invalid value: {w}: "
                    f"resource weight of {r.get('name', '')} not in valid range (0, 100]"
                )
        if t == "RequestedToCapacityRatio" and not (
            (strategy.get("requestedToCapacityRatio") or {}).get("shape")
        ):
            errors.append(f"{path}.scoringStrategy.requestedToCapacityRatio.shape: Required value")
    elif name == "NodeResourcesBalancedAllocation":
        seen: set[str] = set()
        for i, r in enumerate(args.get("resources") or ()):
            rname = str(r.get("name", "")) if isinstance(r, Mapping) else ""
            if rname in seen:
                errors.append(f'{path}.resources[{i}].name: Duplicate value: "{rname}"')
            seen.add(rname)
            w = r.get("weight", 1) if isinstance(r, Mapping) else None
            if w != 1:
                errors.append(f"{path}.resources[{i}].weight: Invalid value: {w}: must be 1")
    elif name == "InterPodAffinity":
        w = args.get("hardPodAffinityWeight", 1)
        if not isinstance(w, int) or not 0 <= w <= 100:
            errors.append(
                f"{path}.hardPodAffinityWeight: Invalid value: {w}: not in valid range [0, 100]"
            )
    elif name == "PodTopologySpread":
        t = args.get("defaultingType", "System")
        if t not in ("System", "List"):
            errors.append(
                f'{path}.defaultingType: Unsupported value: "{t}": '
                'supported values: "List", "System"'
            )
        if t == "System" and args.get("defaultConstraints"):
            errors.append(
                f'{path}.defaultConstraints: Invalid value: when .defaultingType is "System", '
                ".defaultConstraints must be empty"
            )
        if args.get("defaultConstraints") is not None:
            _validate_default_constraints(
                args["defaultConstraints"], f"{path}.defaultConstraints", errors
            )


def parse(doc: Any) -> KubeSchedulerConfiguration:
    """Build a configuration from a decoded YAML/JSON document, or raise ConfigError."""
    errors: list[str] = []
    if not isinstance(doc, Mapping):
        raise ConfigError(["the configuration must be a KubeSchedulerConfiguration object"])
    if doc.get("apiVersion") != API_VERSION:
        errors.append(
            f'apiVersion: Invalid value: "{doc.get("apiVersion", "")}": must be {API_VERSION}'
        )
    if doc.get("kind") != KIND:
        errors.append(f'kind: Invalid value: "{doc.get("kind", "")}": must be {KIND}')
    _unknown(doc, _TOP_FIELDS, "", errors)
    cfg = KubeSchedulerConfiguration()
    if "parallelism" in doc:
        v = _int(doc["parallelism"], "parallelism", errors)
        if v is not None and v <= 0:
            errors.append(
                f"parallelism: Invalid value: {v}: should be an integer value greater than zero"
            )
        cfg.parallelism = v or cfg.parallelism
    if doc.get("percentageOfNodesToScore") is not None:
        v = _int(doc["percentageOfNodesToScore"], "percentageOfNodesToScore", errors)
        if v is not None and not 0 <= v <= 100:
            errors.append(
                f"percentageOfNodesToScore: Invalid value: {v}: not in valid range [0-100]"
            )
        cfg.percentage_of_nodes_to_score = v or 0
    if "podInitialBackoffSeconds" in doc:
        v = _int(doc["podInitialBackoffSeconds"], "podInitialBackoffSeconds", errors)
        if v is not None and v <= 0:
            errors.append(f"podInitialBackoffSeconds: Invalid value: {v}: must be greater than 0")
        cfg.pod_initial_backoff_seconds = float(v or 1)
    if "podMaxBackoffSeconds" in doc:
        v = _int(doc["podMaxBackoffSeconds"], "podMaxBackoffSeconds", errors)
        if v is not None and v < cfg.pod_initial_backoff_seconds:
            errors.append(
                f"podMaxBackoffSeconds: Invalid value: {v}: must be greater than or equal to "
                "PodInitialBackoffSeconds"
            )
        cfg.pod_max_backoff_seconds = float(v or 10)
    le = doc.get("leaderElection") or {}
    if isinstance(le, Mapping):
        _unknown(le, _LEADER_ELECTION_FIELDS, "leaderElection", errors)
        lec = cfg.leader_election
        lec.leader_elect = bool(le.get("leaderElect", True))
        for key, attr in (
            ("leaseDuration", "lease_duration"),
            ("renewDeadline", "renew_deadline"),
            ("retryPeriod", "retry_period"),
        ):
            if key in le:
                setattr(lec, attr, _duration(le[key], f"leaderElection.{key}", errors))
        lec.resource_lock = str(le.get("resourceLock") or lec.resource_lock)
        lec.resource_name = le.get("resourceName") or lec.resource_name
        lec.resource_namespace = le.get("resourceNamespace") or lec.resource_namespace
    cc = doc.get("clientConnection") or {}
    if isinstance(cc, Mapping):
        cfg.kubeconfig = str(cc.get("kubeconfig") or "")
    if doc.get("extenders"):
        errors.append("extenders: Forbidden: scheduler extenders are not supported")
    raw_profiles = doc.get("profiles")
    if raw_profiles is not None and not isinstance(raw_profiles, list):
        errors.append("profiles: Invalid value: must be a list")
        raw_profiles = None
    if raw_profiles:
        cfg.profiles = [_profile(p, f"profiles[{i}]", errors) for i, p in enumerate(raw_profiles)]
    names: set[str] = set()
    queue_sort: list[tuple[str, int]] | None = None
    for i, prof in enumerate(cfg.profiles):
        if prof.scheduler_name in names:
            errors.append(f'profiles[{i}].schedulerName: Duplicate value: "{prof.scheduler_name}"')
        names.add(prof.scheduler_name)
        qs = _queue_sort_of(prof)
        if queue_sort is None:
            queue_sort = qs
        elif qs != queue_sort:
            errors.append(
                f"profiles[{i}].plugins.queueSort: Invalid value: {qs}: "
                "queueSort must be the same for all profiles"
            )
    if errors:
        raise ConfigError(errors)
    return cfg


def _queue_sort_of(prof: Profile) -> list[tuple[str, int]]:
    explicit = prof.plugins.get("queueSort")
    if explicit is not None and explicit.enabled:
        return [(n, 0) for n, _ in explicit.enabled]
    multi = prof.plugins.get("multiPoint", PluginSet())
    disabled = set(explicit.disabled) if explicit else set()
    if "*" in disabled:
        return []
    return [(n, 0) for n, _ in multi.enabled if n == "PrioritySort" and n not in disabled]


def load(path: str | Path) -> KubeSchedulerConfiguration:
    """Read a configuration file (YAML or JSON). Blocking: call it in a thread."""
    try:
        text = Path(path).read_text()
    except OSError as e:
        raise ConfigError([f"reading {path}: {e.strerror or e}"]) from e
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise ConfigError([f"decoding {path}: {e}"]) from e
    return parse(doc)


def build_frameworks(
    cfg: KubeSchedulerConfiguration,
    registry: Mapping[str, PluginFactory],
    seams: Seams | Callable[[str], Seams],
) -> dict[str, Framework]:
    """One Framework per profile, by schedulerName; plugin errors name the profile.

    ``seams`` may be a function of the profile name, so that each profile records
    its events as its own scheduler name (``From: my-scheduler``), as upstream does.
    """
    out: dict[str, Framework] = {}
    errors: list[str] = []
    for i, prof in enumerate(cfg.profiles):
        try:
            f = Framework(
                prof.scheduler_name,
                prof.plugins,
                prof.plugin_args,
                registry,
                seams(prof.scheduler_name) if callable(seams) else seams,
                percentage_of_nodes_to_score=prof.percentage_of_nodes_to_score,
            )
        except FrameworkError as e:
            errors.append(f"profiles[{i}]: {e}")
            continue
        # NewFramework: a profile must sort its queue and bind its pods
        if not f.points["queueSort"]:
            errors.append(
                f"profiles[{i}].plugins.queueSort: Required value: no queue sort plugin is enabled"
            )
        if not f.points["bind"]:
            errors.append(
                f"profiles[{i}].plugins.bind: Required value: at least one bind plugin is needed"
            )
        out[prof.scheduler_name] = f
    if errors:
        raise ConfigError(errors)
    return out


class _Inert:
    """Seams for building a profile only to check it: nothing is ever called."""

    async def bind(self, binding: Obj) -> None:
        raise RuntimeError("not connected")

    async def delete_pod(self, namespace: str, name: str, uid: str) -> None:
        raise RuntimeError("not connected")

    async def update_pod_status(
        self, pod: Obj, condition: Obj | None, nominated_node_name: str | None
    ) -> None:
        raise RuntimeError("not connected")

    def event(self, obj: Obj, event_type: str, reason: str, action: str, message: str, /) -> None:
        raise RuntimeError("not connected")


def check_frameworks(
    cfg: KubeSchedulerConfiguration, registry: Mapping[str, PluginFactory]
) -> None:
    """Build every profile once, unconnected, so that an unknown plugin, a plugin at an
    extension point it lacks, bad plugin args or a profile without a queue sort or bind
    plugin stop start-up with ConfigError before the scheduler connects."""
    inert = _Inert()
    build_frameworks(cfg, registry, Seams(inert, inert, inert, inert))
