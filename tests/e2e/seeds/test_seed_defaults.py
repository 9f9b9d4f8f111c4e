"""Manifests of the user notes read back as a real 1.33 API server returns them: every
default of upstream's ``defaults.go`` and strategies, quantities in canonical form, and the
shape of Go's JSON encoding (``omitempty`` fields left out, fields without it always written:
a template's ``creationTimestamp: null``, a new DaemonSet's zero counters, a Service's
``status.loadBalancer: {}``).

Each manifest goes through ``kubectl create --dry-run=server -o yaml`` (what a ``kubectl get -o
yaml`` right after the create shows, before any controller writes a status). What differs by
nature (uid, timestamps, allocated IPs and node ports, the generated token volume's name) is
masked. The expected documents are written from upstream 1.33's behaviour.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml

from tests.e2e.apiserver.conftest import Server
from tests.e2e.seeds.notes import manifests, seeds_dir

pytestmark = pytest.mark.e2e

SEEDS = seeds_dir()
BY_ID = {m.id: m for m in manifests(SEEDS)} if SEEDS is not None else {}
NAMESPACE = "seeds-defaults"

_TEMPLATE_SPEC = """
      dnsPolicy: ClusterFirst
      restartPolicy: Always
      schedulerName: default-scheduler
      securityContext: {}
      terminationGracePeriodSeconds: 30"""

_TOKEN = """
    volumeMounts:
    - mountPath: /var/run/secrets/kubernetes.io/serviceaccount
      name: kube-api-access
      readOnly: true"""

_POD_SPEC = """
  dnsPolicy: ClusterFirst
  enableServiceLinks: true
  preemptionPolicy: PreemptLowerPriority
  priority: 0
  restartPolicy: Always
  schedulerName: default-scheduler
  securityContext: {}
  serviceAccount: default
  serviceAccountName: default
  terminationGracePeriodSeconds: 30
  tolerations:
  - effect: NoExecute
    key: node.kubernetes.io/not-ready
    operator: Exists
    tolerationSeconds: 300
  - effect: NoExecute
    key: node.kubernetes.io/unreachable
    operator: Exists
    tolerationSeconds: 300
  volumes:
  - name: kube-api-access
    projected:
      defaultMode: 420
      sources:
      - serviceAccountToken:
          expirationSeconds: 3607
          path: token
      - configMap:
          items:
          - key: ca.crt
            path: ca.crt
          name: kube-root-ca.crt
      - downwardAPI:
          items:
          - fieldRef:
              apiVersion: v1
              fieldPath: metadata.namespace
            path: namespace
status:
  phase: Pending
  qosClass: BestEffort"""

EXPECTED: dict[str, str] = {
    "000:1617": """
apiVersion: apps/v1
kind: DaemonSet
metadata:
  annotations:
    deprecated.daemonset.template.generation: "1"
  generation: 1
  name: monitoring-daemon
  namespace: seeds-defaults
spec:
  revisionHistoryLimit: 10
  selector:
    matchLabels:
      app: monitoring-agent
  template:
    metadata:
      creationTimestamp: null
      labels:
        app: monitoring-agent
    spec:
      containers:
      - image: monitoring-agent
        imagePullPolicy: Always
        name: monitoring-agent
        resources: {}
        terminationMessagePath: /dev/termination-log
        terminationMessagePolicy: File"""
    + _TEMPLATE_SPEC
    + """
  updateStrategy:
    rollingUpdate:
      maxSurge: 0
      maxUnavailable: 1
    type: RollingUpdate
status:
  currentNumberScheduled: 0
  desiredNumberScheduled: 0
  numberMisscheduled: 0
  numberReady: 0
""",
    "004:1113": """
apiVersion: apps/v1
kind: Deployment
metadata:
  generation: 1
  name: hello-deploy
  namespace: seeds-defaults
spec:
  minReadySeconds: 10
  progressDeadlineSeconds: 300
  replicas: 10
  revisionHistoryLimit: 5
  selector:
    matchLabels:
      app: hello-world
  strategy:
    rollingUpdate:
      maxSurge: 1
      maxUnavailable: 1
    type: RollingUpdate
  template:
    metadata:
      creationTimestamp: null
      labels:
        app: hello-world
    spec:
      containers:
      - image: nigelpoulton/k8sbook:1.0
        imagePullPolicy: IfNotPresent
        name: hello-pod
        ports:
        - containerPort: 8080
          protocol: TCP
        resources:
          limits:
            cpu: 100m
            memory: 128Mi
        terminationMessagePath: /dev/termination-log
        terminationMessagePolicy: File"""
    + _TEMPLATE_SPEC
    + """
status: {}
""",
    "004:3360": """
apiVersion: apps/v1
kind: StatefulSet
metadata:
  generation: 1
  name: tkb-sts
  namespace: seeds-defaults
spec:
  persistentVolumeClaimRetentionPolicy:
    whenDeleted: Retain
    whenScaled: Retain
  podManagementPolicy: OrderedReady
  replicas: 2
  revisionHistoryLimit: 10
  selector:
    matchLabels:
      app: mongo
  serviceName: tkb-sts
  template:
    metadata:
      creationTimestamp: null
      labels:
        app: mongo
    spec:
      containers:
      - image: mongo:latest
        imagePullPolicy: Always
        name: ctr-mongo
        resources: {}
        terminationMessagePath: /dev/termination-log
        terminationMessagePolicy: File"""
    + _TEMPLATE_SPEC
    + """
  updateStrategy:
    rollingUpdate:
      partition: 0
    type: RollingUpdate
status:
  availableReplicas: 0
  replicas: 0
""",
    "000:581": """
apiVersion: v1
kind: ReplicationController
metadata:
  generation: 1
  labels:
    app: myapp
    type: front-end
  name: myapp-rc
  namespace: seeds-defaults
spec:
  replicas: 3
  selector:
    app: myapp
    type: front-end
  template:
    metadata:
      creationTimestamp: null
      labels:
        app: myapp
        type: front-end
      name: myapp-pod
    spec:
      containers:
      - image: nginx
        imagePullPolicy: Always
        name: nginx-container
        resources: {}
        terminationMessagePath: /dev/termination-log
        terminationMessagePolicy: File"""
    + _TEMPLATE_SPEC
    + """
status:
  replicas: 0
""",
    "000:5429": """
apiVersion: v1
kind: Service
metadata:
  name: nginx-ingress
  namespace: seeds-defaults
spec:
  clusterIP: IP
  clusterIPs:
  - IP
  externalTrafficPolicy: Cluster
  internalTrafficPolicy: Cluster
  ipFamilies:
  - IPv4
  ipFamilyPolicy: SingleStack
  ports:
  - name: http
    nodePort: PORT
    port: 80
    protocol: TCP
    targetPort: 80
  - name: https
    nodePort: PORT
    port: 443
    protocol: TCP
    targetPort: 443
  selector:
    name: nginx-ingress
  sessionAffinity: None
  type: NodePort
status:
  loadBalancer: {}
""",
    "000:4189": """
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  finalizers:
  - kubernetes.io/pvc-protection
  name: myclaim
  namespace: seeds-defaults
spec:
  accessModes:
  - ReadWriteOnce
  resources:
    requests:
      storage: 500Mi
  volumeMode: Filesystem
status:
  phase: Pending
""",
    "000:4140": """
apiVersion: v1
kind: PersistentVolume
metadata:
  finalizers:
  - kubernetes.io/pv-protection
  name: pv-vol1
spec:
  accessModes:
  - ReadWriteOnce
  capacity:
    storage: 1Gi
  hostPath:
    path: /tmp/data
    type: ""
  persistentVolumeReclaimPolicy: Retain
  volumeMode: Filesystem
status:
  lastPhaseTransitionTime: TIME
  phase: Pending
""",
    "000:3552": """
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: developer
  namespace: seeds-defaults
rules:
- apiGroups:
  - ""
  resources:
  - pods
  verbs:
  - list
  - get
  - create
  - update
  - delete
- apiGroups:
  - ""
  resources:
  - ConfigMap
  verbs:
  - create
""",
    "001:1000": """
apiVersion: v1
kind: Pod
metadata:
  generation: 1
  labels:
    app: helloworld
  name: nodehelloworld.example.com
  namespace: seeds-defaults
spec:
  containers:
  - image: k8s
    imagePullPolicy: Always
    livenessProbe:
      failureThreshold: 3
      httpGet:
        path: /
        port: 3000
        scheme: HTTP
      initialDelaySeconds: 15
      periodSeconds: 10
      successThreshold: 1
      timeoutSeconds: 30
    name: k8s
    ports:
    - containerPort: 3000
      protocol: TCP
    resources: {}
    terminationMessagePath: /dev/termination-log
    terminationMessagePolicy: File"""
    + _TOKEN
    + _POD_SPEC
    + "\n",
}


def _masked(doc: dict[str, Any]) -> dict[str, Any]:
    md = doc["metadata"]
    for key in ("uid", "creationTimestamp", "resourceVersion", "managedFields"):
        md.pop(key, None)
    spec = doc.get("spec") or {}
    if doc["kind"] == "Service":
        spec["clusterIP"] = "IP"
        spec["clusterIPs"] = ["IP" for _ in spec.get("clusterIPs") or []]
        for port in spec.get("ports") or []:
            if "nodePort" in port:
                port["nodePort"] = "PORT"
    status = doc.get("status") or {}
    if "lastPhaseTransitionTime" in status:
        status["lastPhaseTransitionTime"] = "TIME"
    text = yaml.safe_dump(doc, sort_keys=True)
    return yaml.safe_load(re.sub(r"kube-api-access-[a-z0-9]{5}", "kube-api-access", text))


@pytest.fixture(scope="module")
def namespace(cluster: Server) -> str:
    cluster.kubectl("1.33", "create", "namespace", NAMESPACE)
    return NAMESPACE


@pytest.mark.parametrize("manifest_id", sorted(EXPECTED))
def test_manifest_reads_back_as_upstream(cluster: Server, namespace: str, manifest_id: str) -> None:
    if manifest_id not in BY_ID:
        pytest.fail(f"manifest {manifest_id} is not in the notes ({SEEDS})")
    m = BY_ID[manifest_id]
    res = cluster.kubectl(
        "1.33", "-n", namespace, "create", "--dry-run=server", "-o", "yaml", "-f", "-",
        input=m.text,
    )  # fmt: skip
    got = _masked(yaml.safe_load(res.stdout))
    assert got == yaml.safe_load(EXPECTED[manifest_id])


def test_deployment_after_its_controllers_ran(cluster: Server, namespace: str) -> None:
    # what kubectl get -o yaml shows once the controllers wrote: zero counters left out
    # (omitempty), and the controllers' writes under kube-controller-manager's name
    m = BY_ID["004:1113"]
    k = cluster.kubectl
    k("1.33", "-n", namespace, "create", "-f", "-", input=m.text)
    k("1.33", "-n", namespace, "wait", "--for=jsonpath={.status.observedGeneration}=1",
      "deployment/hello-deploy", "--timeout=60s")  # fmt: skip
    k("1.33", "-n", namespace, "wait", "--for=jsonpath={.status.updatedReplicas}=10",
      "deployment/hello-deploy", "--timeout=60s")  # fmt: skip
    got = yaml.safe_load(
        k(
            "1.33",
            "-n",
            namespace,
            "get",
            "deployment",
            "hello-deploy",
            "-o",
            "yaml",
            "--show-managed-fields",
        ).stdout
    )
    status = got["status"]
    assert sorted(status) == [
        "conditions",
        "observedGeneration",
        "replicas",
        "unavailableReplicas",
        "updatedReplicas",
    ], status
    managers = {
        (e["manager"], e["operation"], e.get("subresource", ""))
        for e in got["metadata"]["managedFields"]
    }
    assert managers == {
        ("kubectl-create", "Update", ""),
        ("kube-controller-manager", "Update", ""),
        ("kube-controller-manager", "Update", "status"),
    }
