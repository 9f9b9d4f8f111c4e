from __future__ import annotations

import datetime
from typing import Any

import pytest

from pyk8s.apiserver.printers import columns, table


@pytest.mark.parametrize(
    ("seconds", "want"),
    [
        (-5, "<invalid>"),
        (5, "5s"),
        (119, "119s"),
        (150, "2m30s"),
        (300, "5m"),
        (3600, "60m"),
        (4 * 3600 + 60, "4h1m"),
        (30 * 3600, "30h"),
        (3 * 86400 + 3600, "3d1h"),
        (40 * 86400, "40d"),
        (3 * 365 * 86400, "3y"),
    ],
)
def test_human_duration(seconds: int, want: str) -> None:
    assert table.human_duration(datetime.timedelta(seconds=seconds)) == want


def test_pod_status_column() -> None:
    pod = {
        "metadata": {"name": "p"},
        "spec": {"containers": [{"name": "c"}]},
        "status": {
            "phase": "Running",
            "containerStatuses": [
                {
                    "name": "c",
                    "ready": False,
                    "restartCount": 3,
                    "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                }
            ],
        },
    }
    assert columns.pod_status_reason(pod) == "CrashLoopBackOff"
    pod["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    assert columns.pod_status_reason(pod) == "Terminating"
    init = {
        "spec": {"initContainers": [{"name": "i"}], "containers": [{"name": "c"}]},
        "status": {
            "phase": "Pending",
            "initContainerStatuses": [{"name": "i", "state": {"running": {}}}],
        },
    }
    assert columns.pod_status_reason(init) == "Init:0/1"


def test_service_row() -> None:
    svc = {
        "metadata": {"name": "s", "creationTimestamp": None},
        "spec": {
            "type": "NodePort",
            "clusterIP": "10.43.0.5",
            "selector": {"app": "x"},
            "ports": [{"port": 80, "nodePort": 30080, "protocol": "TCP"}],
        },
    }
    cells = columns.SERVICE.row(svc)
    assert cells[:5] == ["s", "NodePort", "10.43.0.5", "<none>", "80:30080/TCP"]
    assert cells[-1] == "app=x"


def test_table_shape() -> None:
    t = table.to_table(table.DEFAULT, [{"metadata": {"name": "a", "creationTimestamp": "x"}}])
    assert t["kind"] == "Table" and t["apiVersion"] == "meta.k8s.io/v1"
    assert [c["name"] for c in t["columnDefinitions"]] == ["Name", "Created At"]
    assert t["rows"][0]["cells"] == ["a", "x"]
    assert t["rows"][0]["object"]["kind"] == "PartialObjectMetadata"


def test_hpa_targets() -> None:
    hpa = {
        "metadata": {"name": "h"},
        "spec": {
            "scaleTargetRef": {"kind": "Deployment", "name": "web"},
            "maxReplicas": 3,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "target": {"type": "Utilization", "averageUtilization": 50},
                    },
                }
            ],
        },
        "status": {
            "currentReplicas": 2,
            "currentMetrics": [
                {
                    "type": "Resource",
                    "resource": {"name": "cpu", "current": {"averageUtilization": 31}},
                }
            ],
        },
    }
    cells = columns.HPA.row(hpa)
    assert cells[:6] == ["h", "Deployment/web", "cpu: 31%/50%", "<unset>", 3, 2]
    hpa["spec"]["minReplicas"] = 1
    hpa["spec"]["metrics"] += [
        {"type": "Pods", "pods": {"metric": {"name": "qps"}, "target": {"averageValue": "10"}}},
        {
            "type": "Object",
            "object": {
                "metric": {"name": "hits"},
                "describedObject": {"kind": "Service", "name": "s"},
                "target": {"type": "AverageValue", "averageValue": "2k"},
            },
        },
    ]
    cells = columns.HPA.row(hpa)
    # two at most; a metric's current value is the status at its index
    assert cells[2:4] == ["cpu: 31%/50%, <unknown>/10 + 1 more...", "1"]


def test_a_gated_pod_shows_scheduling_gated() -> None:
    pod = {
        "spec": {"containers": [{"name": "c"}], "schedulingGates": [{"name": "g"}]},
        "status": {
            "phase": "Pending",
            "conditions": [
                {"type": "PodScheduled", "status": "False", "reason": "SchedulingGated"}
            ],
        },
    }
    assert columns.pod_status_reason(pod) == "SchedulingGated"
    pod["status"]["conditions"][0]["reason"] = "Unschedulable"
    assert columns.pod_status_reason(pod) == "Pending"


def test_resourcequota_row_reads_status_and_ends_with_age() -> None:
    """``printResourceQuota``: Name, Request, Limit, Age; the quantities come from
    ``status.hard``/``status.used`` (what the quota controller recorded), not the spec."""
    rq = {
        "metadata": {"name": "q", "creationTimestamp": None},
        "spec": {"hard": {"pods": "10", "limits.cpu": "2", "configmaps": "5"}},
        "status": {
            "hard": {"pods": "10", "limits.cpu": "2", "requests.memory": "1Gi"},
            "used": {"pods": "3", "requests.memory": "512Mi"},
        },
    }
    assert [c.name for c in columns.RESOURCEQUOTA.columns] == ["Name", "Request", "Limit", "Age"]
    assert columns.RESOURCEQUOTA.row(rq)[:3] == [
        "q",
        "pods: 3/10, requests.memory: 512Mi/1Gi",
        "limits.cpu: 0/2",
    ]
    assert columns.RESOURCEQUOTA.row({"metadata": {"name": "new"}})[:3] == ["new", "", ""]


def test_priorityclass_preemption_policy_is_a_default_column() -> None:
    """1.33 prints PREEMPTIONPOLICY without ``-o wide`` (priority 0)."""
    cols = {c.name: c.priority for c in columns.PRIORITYCLASS.columns}
    assert cols["PreemptionPolicy"] == 0


def test_pod_row_counts_sidecars_and_keeps_finished_pods_status_when_deleted() -> None:
    """``printPod`` (1.33): a restartable init container (sidecar) is a container for READY
    and RESTARTS; a pod that finished shows its phase, not Terminating, while deleted."""
    pod = {
        "metadata": {"name": "p", "creationTimestamp": None},
        "spec": {
            "initContainers": [{"name": "side", "restartPolicy": "Always"}],
            "containers": [{"name": "app"}],
        },
        "status": {
            "phase": "Running",
            "conditions": [
                {"type": "Initialized", "status": "True"},
                {"type": "Ready", "status": "True"},
            ],
            "initContainerStatuses": [
                {
                    "name": "side",
                    "ready": True,
                    "started": True,
                    "restartCount": 2,
                    "state": {"running": {}},
                }
            ],
            "containerStatuses": [
                {"name": "app", "ready": True, "restartCount": 1, "state": {"running": {}}}
            ],
        },
    }
    cells = columns.POD.row(pod)
    assert cells[1:4] == ["2/2", "Running", "3"]
    done = {
        "metadata": {"name": "d", "deletionTimestamp": "2026-01-01T00:00:00Z"},
        "spec": {"containers": [{"name": "c"}]},
        "status": {
            "phase": "Succeeded",
            "containerStatuses": [
                {"name": "c", "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}
            ],
        },
    }
    assert columns.pod_status_reason(done) == "Completed"
    done["status"]["phase"] = "Running"
    assert columns.pod_status_reason(done) == "Terminating"


def test_pod_restarts_while_initializing_are_the_init_containers() -> None:
    pod = {
        "metadata": {"name": "p"},
        "spec": {"initContainers": [{"name": "i"}], "containers": [{"name": "c"}]},
        "status": {
            "phase": "Pending",
            "initContainerStatuses": [
                {
                    "name": "i",
                    "restartCount": 4,
                    "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                }
            ],
            "containerStatuses": [
                {
                    "name": "c",
                    "restartCount": 0,
                    "state": {"waiting": {"reason": "PodInitializing"}},
                }
            ],
        },
    }
    cells = columns.POD.row(pod)
    assert cells[1:4] == ["0/1", "Init:CrashLoopBackOff", "4"]


def test_event_row_as_print_event() -> None:
    """LAST SEEN is a plain age (the "(x3 over 5m)" form is describe's), a series gives the
    count and last observation, the source falls back to reportingComponent/Instance, and
    an object without a name is its kind alone."""
    now = datetime.datetime.now(datetime.UTC)

    def ago(s: int) -> str:
        return (now - datetime.timedelta(seconds=s)).strftime("%Y-%m-%dT%H:%M:%SZ")

    ev = {
        "metadata": {"name": "e"},
        "involvedObject": {"kind": "Pod", "name": "p"},
        "firstTimestamp": ago(600),
        "lastTimestamp": ago(120),
        "count": 3,
        "type": "Normal",
        "reason": "Pulled",
        "message": " done \n",
        "source": {"component": "kubelet", "host": "n1"},
    }
    cells = columns.EVENT.row(ev)
    assert cells == ["2m", "Normal", "Pulled", "pod/p", "", "kubelet, n1", "done", "10m", 3, "e"]
    new_api = {
        "metadata": {"name": "n"},
        "involvedObject": {"kind": "Node"},
        "eventTime": ago(300),
        "series": {"count": 7, "lastObservedTime": ago(60)},
        "reportingComponent": "ctl",
        "reportingInstance": "i-1",
    }
    cells = columns.EVENT.row(new_api)
    assert cells[0] == "60s" and cells[3] == "node" and cells[5] == "ctl, i-1"
    assert cells[7:9] == ["5m", 7]


def test_job_status_by_precedence() -> None:
    def job(*types: str, deleting: bool = False) -> dict[str, Any]:
        md: dict[str, Any] = {"name": "j"}
        if deleting:
            md["deletionTimestamp"] = "2026-01-01T00:00:00Z"
        conds = [{"type": t, "status": "True"} for t in types]
        return {"metadata": md, "spec": {}, "status": {"conditions": conds}}

    assert columns.JOB.row(job("FailureTarget", "Failed"))[1] == "Failed"
    assert columns.JOB.row(job("SuccessCriteriaMet", "Complete"))[1] == "Complete"
    assert columns.JOB.row(job("FailureTarget"))[1] == "FailureTarget"
    assert columns.JOB.row(job("Suspended", deleting=True))[1] == "Terminating"
    assert columns.JOB.row(job("Complete", deleting=True))[1] == "Complete"
    assert columns.JOB.row(job())[1] == "Running"


def test_volume_columns_as_upstream_helpers() -> None:
    """GetAccessModesAsString (fixed order, once each) and the beta storage-class
    annotation winning over storageClassName."""
    pv = {
        "metadata": {
            "name": "v",
            "annotations": {"volume.beta.kubernetes.io/storage-class": "old"},
        },
        "spec": {
            "accessModes": ["ReadWriteMany", "ReadWriteOnce", "ReadWriteOnce"],
            "storageClassName": "new",
            "capacity": {"storage": "1Gi"},
        },
        "status": {"phase": "Available"},
    }
    cells = columns.PV.row(pv)
    assert cells[2] == "RWO,RWX" and cells[6] == "old"


def test_admission_policy_param_columns() -> None:
    assert columns.VAP.row({"metadata": {"name": "p"}, "spec": {}})[2] == "<unset>"
    binding = {"metadata": {"name": "b"}, "spec": {"policyName": "p"}}
    assert columns.VAPB.row(binding)[2] == "<unset>"
    binding["spec"]["paramRef"] = {"name": "cfg"}
    assert columns.VAPB.row(binding)[2] == "*/cfg"
    binding["spec"]["paramRef"] = {"name": "cfg", "namespace": "ns"}
    assert columns.VAPB.row(binding)[2] == "ns/cfg"


def test_csr_condition_as_extract_csr_status() -> None:
    def csr(*types: str, cert: str = "") -> dict[str, Any]:
        status: dict[str, Any] = {"conditions": [{"type": t, "status": "True"} for t in types]}
        if cert:
            status["certificate"] = cert
        return {"metadata": {"name": "c"}, "spec": {}, "status": status}

    assert columns.CSR.row(csr())[-1] == "Pending"
    assert columns.CSR.row(csr("Failed"))[-1] == "Pending,Failed"
    assert columns.CSR.row(csr("Approved", cert="Y2VydA=="))[-1] == "Approved,Issued"
    assert columns.CSR.row(csr("Approved", "Denied"))[-1] == "Denied"


def test_storage_class_default_by_beta_annotation() -> None:
    sc = {
        "metadata": {
            "name": "s",
            "annotations": {"storageclass.beta.kubernetes.io/is-default-class": "true"},
        },
        "provisioner": "p",
    }
    assert columns.STORAGECLASS.row(sc)[0] == "s (default)"


def test_selector_requirements_sorted_by_key() -> None:
    sel = {
        "matchLabels": {"tier": "web", "app": "x"},
        "matchExpressions": [
            {"key": "env", "operator": "In", "values": ["prod", "dev"]},
            {"key": "zone", "operator": "DoesNotExist"},
            {"key": "canary", "operator": "Exists"},
        ],
    }
    assert columns._selector_string(sel) == "app=x,canary,env in (dev,prod),tier=web,!zone"
    assert columns._selector_string({}) == "<none>"


def test_address_lists_as_upstream() -> None:
    """formatEndpoints walks ports before addresses; formatDiscoveryPorts shows a port's
    name or * when it has no number and stops at three; formatHosts counts further rules;
    load balancer addresses are a sorted set."""
    ep = {
        "metadata": {"name": "e"},
        "subsets": [
            {
                "addresses": [{"ip": "10.0.0.1"}, {"ip": "10.0.0.2"}],
                "ports": [{"port": 80}, {"port": 443}],
            }
        ],
    }
    assert columns.ENDPOINTS.row(ep)[1] == "10.0.0.1:80,10.0.0.2:80,10.0.0.1:443 + 1 more..."
    eps = {
        "metadata": {"name": "s"},
        "addressType": "IPv4",
        "ports": [{"port": 80}, {"name": "dns"}, {}, {"port": 9}],
        "endpoints": [],
    }
    assert columns.ENDPOINTSLICE.row(eps)[2:4] == ["80,dns,* + 1 more...", "<unset>"]
    ing = {
        "metadata": {"name": "i"},
        "spec": {"rules": [{"host": f"h{i}.example.com"} for i in range(5)]},
        "status": {"loadBalancer": {"ingress": [{"ip": "10.0.0.9"}, {"hostname": "a.lb"}]}},
    }
    assert columns.INGRESS.row(ing)[2:4] == [
        "h0.example.com,h1.example.com,h2.example.com + 2 more...",
        "10.0.0.9,a.lb",
    ]


def test_controller_revision_apiservice_ipaddress_ingressclass_cells() -> None:
    crev = {
        "metadata": {
            "name": "r",
            "ownerReferences": [
                {"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "web", "controller": True}
            ],
        },
        "revision": 2,
    }
    assert columns.CONTROLLERREVISION.row(crev)[1:3] == ["statefulset.apps/web", 2]
    svc = {
        "metadata": {"name": "v1beta1.metrics.k8s.io"},
        "spec": {"service": {"namespace": "kube-system", "name": "metrics-server"}},
        "status": {
            "conditions": [{"type": "Available", "status": "False", "reason": "MissingEndpoints"}]
        },
    }
    assert columns.APISERVICE.row(svc)[1:3] == [
        "kube-system/metrics-server",
        "False (MissingEndpoints)",
    ]
    ip = {
        "metadata": {"name": "10.43.0.1"},
        "spec": {"parentRef": {"group": "", "resource": "services", "namespace": "default",
                               "name": "kubernetes"}},
    }  # fmt: skip
    assert columns.IPADDRESS.row(ip) == ["10.43.0.1", "services/default/kubernetes"]
    cls = {
        "metadata": {"name": "nginx"},
        "spec": {
            "controller": "k8s.io/ingress-nginx",
            "parameters": {"apiGroup": "k8s.example.com", "kind": "IngressParameters",
                           "name": "external-lb"},
        },
    }  # fmt: skip
    assert columns.INGRESSCLASS.row(cls)[2] == "IngressParameters.k8s.example.com/external-lb"


def test_csidriver_token_requests_unset() -> None:
    driver = {"metadata": {"name": "d"}, "spec": {"volumeLifecycleModes": ["Persistent"]}}
    assert columns.CSIDRIVER.row(driver)[4:7] == ["<unset>", False, "Persistent"]
    driver["spec"]["tokenRequests"] = [{"audience": "a"}, {"audience": "b"}]
    assert columns.CSIDRIVER.row(driver)[4] == "a,b"
