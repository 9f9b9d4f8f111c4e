"""KubeSchedulerConfiguration v1: defaults, plugin merging, pluginConfig, errors naming fields."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from pyk8s.scheduler import config, options
from pyk8s.scheduler.fake import FakeSeams
from pyk8s.scheduler.framework.runtime import PluginSet
from pyk8s.scheduler.plugins.registry import IN_TREE

HEAD = {"apiVersion": config.API_VERSION, "kind": config.KIND}


def test_defaults() -> None:
    cfg = config.parse(dict(HEAD))
    [prof] = cfg.profiles
    assert prof.scheduler_name == "default-scheduler"
    assert cfg.pod_initial_backoff_seconds == 1 and cfg.pod_max_backoff_seconds == 10
    frameworks = config.build_frameworks(cfg, IN_TREE, FakeSeams().seams())
    f = frameworks["default-scheduler"]
    assert [p.name for p in f.points["filter"]] == [
        "NodeUnschedulable",
        "NodeName",
        "TaintToleration",
        "NodeAffinity",
        "NodePorts",
        "NodeResourcesFit",
        "VolumeBinding",
        "PodTopologySpread",
        "InterPodAffinity",
    ]
    assert f.weights == {
        "TaintToleration": 3,
        "NodeAffinity": 2,
        "NodeResourcesFit": 1,
        "PodTopologySpread": 2,
        "InterPodAffinity": 2,
        "NodeResourcesBalancedAllocation": 1,
        "ImageLocality": 1,
    }
    assert [p.name for p in f.points["postFilter"]] == ["DefaultPreemption"]
    assert [p.name for p in f.points["preEnqueue"]] == ["SchedulingGates"]
    assert [p.name for p in f.points["bind"]] == ["DefaultBinder"]


def test_merge_plugin_set() -> None:
    default = PluginSet([("A", 1), ("B", 2), ("C", 3)])
    assert config.merge_plugin_set(default, PluginSet([("B", 9), ("D", 4)], ["C"])).enabled == [
        ("A", 1),
        ("B", 9),
        ("D", 4),
    ]
    assert config.merge_plugin_set(default, PluginSet([("D", 4)], ["*"])).enabled == [("D", 4)]


def test_profiles_weights_and_plugin_config() -> None:
    cfg = config.parse(
        {
            **HEAD,
            "percentageOfNodesToScore": 30,
            "profiles": [
                {
                    "schedulerName": "default-scheduler",
                    "plugins": {
                        "multiPoint": {"enabled": [{"name": "NodeAffinity", "weight": 7}]},
                        "score": {"disabled": [{"name": "ImageLocality"}]},
                    },
                    "pluginConfig": [
                        {
                            "name": "NodeResourcesFit",
                            "args": {"scoringStrategy": {"type": "MostAllocated"}},
                        },
                        {
                            "name": "NodeAffinity",
                            "args": {
                                "addedAffinity": {
                                    "requiredDuringSchedulingIgnoredDuringExecution": {
                                        "nodeSelectorTerms": [
                                            {
                                                "matchExpressions": [
                                                    {
                                                        "key": "pool",
                                                        "operator": "In",
                                                        "values": ["a"],
                                                    }
                                                ]
                                            }
                                        ]
                                    }
                                }
                            },
                        },
                    ],
                },
                {"schedulerName": "bin-packer", "percentageOfNodesToScore": 100},
            ],
        }
    )
    assert cfg.percentage_of_nodes_to_score == 30
    frameworks = config.build_frameworks(cfg, IN_TREE, FakeSeams().seams())
    f = frameworks["default-scheduler"]
    assert f.weights["NodeAffinity"] == 7
    assert "ImageLocality" not in [p.name for p in f.points["score"]]
    assert f.plugins["NodeResourcesFit"].strategy == "MostAllocated"
    assert f.plugins["NodeAffinity"].added_node_selector is not None
    assert frameworks["bin-packer"].percentage_of_nodes_to_score == 100


def _plugin_config(name: str, args: dict) -> dict:
    return {**HEAD, "profiles": [{"pluginConfig": [{"name": name, "args": args}]}]}


@pytest.mark.parametrize(
    ("doc", "error"),
    [
        pytest.param(
            {"apiVersion": "v1", "kind": config.KIND},
            'apiVersion: Invalid value: "v1"',
            id="api-version",
        ),
        pytest.param({**HEAD, "parallelism": 0}, "parallelism: Invalid value: 0", id="parallelism"),
        pytest.param(
            {**HEAD, "percentageOfNodesToScore": 110},
            "percentageOfNodesToScore: Invalid value: 110: not in valid range [0-100]",
            id="percentage",
        ),
        pytest.param(
            {**HEAD, "podInitialBackoffSeconds": 0},
            "podInitialBackoffSeconds: Invalid value: 0",
            id="initial-backoff",
        ),
        pytest.param(
            {**HEAD, "podMaxBackoffSeconds": 0},
            "podMaxBackoffSeconds: Invalid value: 0: must be greater than or equal to "
            "PodInitialBackoffSeconds",
            id="max-backoff",
        ),
        pytest.param(
            {**HEAD, "profilez": []},
            'strict decoding error: unknown field "profilez"',
            id="unknown-top-field",
        ),
        pytest.param(
            {**HEAD, "profiles": [{"schedulerName": "a"}, {"schedulerName": "a"}]},
            'profiles[1].schedulerName: Duplicate value: "a"',
            id="duplicate-profile",
        ),
        pytest.param(
            {**HEAD, "profiles": [{"plugins": {"filter": {"enabled": [{"weight": 1}]}}}]},
            "profiles[0].plugins.filter.enabled[0].name: Required value",
            id="plugin-without-name",
        ),
        pytest.param(
            {
                **HEAD,
                "profiles": [
                    {"plugins": {"score": {"enabled": [{"name": "ImageLocality", "weight": -2}]}}}
                ],
            },
            "profiles[0].plugins.score.enabled[0].weight: Invalid value: -2",
            id="negative-weight",
        ),
        pytest.param(
            {**HEAD, "profiles": [{"plugins": {"filtr": {}}}]},
            'unknown field "profiles[0].plugins.filtr"',
            id="unknown-extension-point",
        ),
        pytest.param(
            {
                **HEAD,
                "profiles": [
                    {
                        "pluginConfig": [
                            {
                                "name": "NodeResourcesFit",
                                "args": {"scoringStrategy": {"type": "Fancy"}},
                            }
                        ]
                    }
                ],
            },
            'profiles[0].pluginConfig[0].args.scoringStrategy.type: Unsupported value: "Fancy"',
            id="bad-strategy",
        ),
        pytest.param(
            {
                **HEAD,
                "profiles": [
                    {
                        "pluginConfig": [
                            {"name": "InterPodAffinity", "args": {}},
                            {"name": "InterPodAffinity", "args": {}},
                        ]
                    }
                ],
            },
            "profiles[0].pluginConfig[1].name: Duplicate value",
            id="duplicate-plugin-config",
        ),
        pytest.param(
            {
                **HEAD,
                "profiles": [
                    {"schedulerName": "a"},
                    {"schedulerName": "b", "plugins": {"queueSort": {"disabled": [{"name": "*"}]}}},
                ],
            },
            "profiles[1].plugins.queueSort: Invalid value",
            id="queue-sort-differs",
        ),
        pytest.param(
            _plugin_config("NodeResourcesFit", {"ignoredResourcez": ["x"]}),
            'strict decoding error: unknown field "profiles[0].pluginConfig[0].args.'
            'ignoredResourcez"',
            id="unknown-arg",
        ),
        pytest.param(
            _plugin_config(
                "PodTopologySpread",
                {
                    "defaultingType": "List",
                    "defaultConstraints": [
                        {"maxSkew": 0, "topologyKey": "zone", "whenUnsatisfiable": "DoNotSchedule"}
                    ],
                },
            ),
            "profiles[0].pluginConfig[0].args.defaultConstraints[0].maxSkew: Invalid value: 0",
            id="default-constraint-skew",
        ),
        pytest.param(
            _plugin_config(
                "PodTopologySpread",
                {
                    "defaultingType": "List",
                    "defaultConstraints": [
                        {"maxSkew": 1, "topologyKey": "zone", "whenUnsatisfiable": "Sometimes"}
                    ],
                },
            ),
            'args.defaultConstraints[0].whenUnsatisfiable: Unsupported value: "Sometimes"',
            id="default-constraint-when",
        ),
        pytest.param(
            _plugin_config(
                "PodTopologySpread",
                {
                    "defaultingType": "List",
                    "defaultConstraints": [
                        {"maxSkew": 1, "whenUnsatisfiable": "ScheduleAnyway"},
                        {
                            "maxSkew": 1,
                            "topologyKey": "zone",
                            "whenUnsatisfiable": "ScheduleAnyway",
                            "labelSelector": {"matchLabels": {"a": "b"}},
                        },
                    ],
                },
            ),
            "args.defaultConstraints[1].labelSelector: Forbidden",
            id="default-constraint-selector",
        ),
        pytest.param(
            _plugin_config(
                "PodTopologySpread",
                {
                    "defaultingType": "List",
                    "defaultConstraints": [{"maxSkew": 1, "whenUnsatisfiable": "ScheduleAnyway"}],
                },
            ),
            "args.defaultConstraints[0].topologyKey: Required value",
            id="default-constraint-key",
        ),
        pytest.param(
            _plugin_config(
                "NodeResourcesFit",
                {"scoringStrategy": {"resources": [{"name": "memory", "weight": 0}]}},
            ),
            "args.scoringStrategy.resources[0].weight: Invalid value: 0: resource weight of "
            "memory not in valid range (0, 100]",
            id="fit-resource-weight",
        ),
        pytest.param(
            _plugin_config("NodeResourcesFit", {"ignoredResourceGroups": ["example.com/gpu"]}),
            'args.ignoredResourceGroups[0]: Invalid value: "example.com/gpu": resource group '
            "name can't contain '/'",
            id="fit-ignored-group",
        ),
        pytest.param(
            _plugin_config(
                "NodeResourcesBalancedAllocation",
                {"resources": [{"name": "cpu", "weight": 1}, {"name": "cpu", "weight": 2}]},
            ),
            'args.resources[1].name: Duplicate value: "cpu"',
            id="balanced-duplicate",
        ),
        pytest.param(
            _plugin_config(
                "NodeResourcesBalancedAllocation", {"resources": [{"name": "cpu", "weight": 2}]}
            ),
            "args.resources[0].weight: Invalid value: 2: must be 1",
            id="balanced-weight",
        ),
        pytest.param(
            _plugin_config("DefaultPreemption", {"minCandidateNodesPercentage": 101}),
            "args.minCandidateNodesPercentage: Invalid value: 101: not in valid range [0, 100]",
            id="preemption-percentage",
        ),
        pytest.param(
            _plugin_config(
                "DefaultPreemption",
                {"minCandidateNodesPercentage": 0, "minCandidateNodesAbsolute": 0},
            ),
            "args.minCandidateNodesPercentage: Invalid value: 0: cannot be zero at the same time",
            id="preemption-both-zero",
        ),
        pytest.param(
            {**HEAD, "leaderElection": {"leaseDuration": "soon"}},
            "leaderElection.leaseDuration: Invalid value",
            id="duration",
        ),
    ],
)
def test_errors_name_the_field(doc: dict, error: str) -> None:
    with pytest.raises(config.ConfigError) as e:
        config.parse(doc)
    assert any(error in m for m in e.value.errors), e.value.errors


def test_unknown_plugin_fails_when_building() -> None:
    cfg = config.parse(
        {**HEAD, "profiles": [{"plugins": {"filter": {"enabled": [{"name": "Nope"}]}}}]}
    )
    with pytest.raises(config.ConfigError, match='profiles\\[0\\]: plugin "Nope" does not exist'):
        config.build_frameworks(cfg, IN_TREE, FakeSeams().seams())


@pytest.mark.parametrize(
    ("plugins", "error"),
    [
        pytest.param(
            {"score": {"enabled": [{"name": "NoSuchPlugin", "weight": 2}]}},
            'profiles[0]: plugin "NoSuchPlugin" does not exist',
            id="unknown-plugin",
        ),
        pytest.param(
            {"multiPoint": {"disabled": [{"name": "*"}]}},
            "profiles[0].plugins.queueSort: Required value: no queue sort plugin is enabled",
            id="no-queue-sort",
        ),
        pytest.param(
            {"bind": {"disabled": [{"name": "DefaultBinder"}]}},
            "profiles[0]: at least one bind plugin is needed",
            id="no-binder",
        ),
        pytest.param(
            {"filter": {"enabled": [{"name": "ImageLocality"}]}},
            'profiles[0]: plugin "ImageLocality" does not extend filter plugin',
            id="wrong-extension-point",
        ),
    ],
)
def test_a_profile_that_cannot_be_built_stops_start_up(
    tmp_path: Path, plugins: dict, error: str
) -> None:
    """The whole of start-up: ``--config`` read, flags applied, every profile built once."""
    path = tmp_path / "sched.yaml"
    path.write_text(
        yaml.safe_dump({**HEAD, "profiles": [{"schedulerName": "x", "plugins": plugins}]})
    )
    with pytest.raises(config.ConfigError) as e:
        options.complete(options.Options(config_file=str(path)))
    assert error in e.value.errors, e.value.errors


def test_load_yaml_file(tmp_path: Path) -> None:
    path = tmp_path / "sched.yaml"
    path.write_text(
        "apiVersion: kubescheduler.config.k8s.io/v1\n"
        "kind: KubeSchedulerConfiguration\n"
        "leaderElection:\n  leaderElect: false\n  leaseDuration: 1m30s\n"
        "profiles:\n- schedulerName: my-scheduler\n"
    )
    cfg = config.load(path)
    assert cfg.profiles[0].scheduler_name == "my-scheduler"
    assert cfg.leader_election.leader_elect is False and cfg.leader_election.lease_duration == 90
    with pytest.raises(config.ConfigError, match="reading"):
        config.load(tmp_path / "missing.yaml")
    (tmp_path / "bad.yaml").write_text("profiles: [\n")
    with pytest.raises(config.ConfigError, match="decoding"):
        config.load(tmp_path / "bad.yaml")


def test_seams_per_profile() -> None:
    cfg = config.parse({**HEAD, "profiles": [{"schedulerName": "a"}, {"schedulerName": "b"}]})
    made: dict[str, FakeSeams] = {}

    def seams_for(name: str):
        made[name] = FakeSeams()
        return made[name].seams()

    frameworks = config.build_frameworks(cfg, IN_TREE, seams_for)
    assert sorted(made) == ["a", "b"]
    assert frameworks["a"].recorder is made["a"].recorder
    assert frameworks["b"].recorder is made["b"].recorder
