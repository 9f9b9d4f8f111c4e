"""The imperative kubectl commands the user notes use most (``shared/seeds``), in their current
1.33 spelling, run in order by the real kubectl 1.33 against a real ``pyk8s server`` (no node
agent: nothing here needs a running container).

Commands from the notes that 1.33's kubectl itself no longer accepts (``run --generator``, bare
``--dry-run``) fail in kubectl before any request, so they are written here as the notes' own
later chapters write them (``--dry-run=client``/``server``).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.apiserver.conftest import Server

NS = "seeds-cmds"

NODE = """
apiVersion: v1
kind: Node
metadata:
  name: node01
  labels:
    kubernetes.io/hostname: node01
"""

# (command, substring of stdout it must print); run in this order, in namespace NS.
COMMANDS: list[tuple[str, str]] = [
    ("run nginx --image nginx", "pod/nginx created"),
    ("run redis --image=redis -l tier=db", "pod/redis created"),
    ("run nginx2 --image=nginx --dry-run=client -o yaml", "name: nginx2"),
    (
        "run static-busybox --restart=Never --image=busybox --dry-run=server -o yaml "
        "--command -- sleep 1000",
        "restartPolicy: Never",
    ),
    ("get pods --selector tier=db -o name", "pod/redis"),
    ("label pods nginx owner=devops", "pod/nginx labeled"),
    ("get pods -l owner=devops -o name", "pod/nginx"),
    ("annotate pods nginx buildversion=1.34", "pod/nginx annotated"),
    ("describe pod nginx", "owner=devops"),
    ("create deployment webapp --image=kodekloud/webapp-color", "deployment.apps/webapp created"),
    (
        "create deployment nginx --image=nginx --dry-run=server -o yaml",
        "progressDeadlineSeconds: 600",
    ),
    ("scale deployment.v1.apps/webapp --replicas=3", "deployment.apps/webapp scaled"),
    ("get deployment webapp -o jsonpath={.spec.replicas}", "3"),
    (
        "set image deployment/webapp webapp-color=nginx:1.9.1",
        "deployment.apps/webapp image updated",
    ),
    (
        "expose deployment webapp --type=NodePort --port=8080 --name=webapp-service",
        "service/webapp-service exposed",
    ),
    ("expose pod nginx --port=80 --name nginx-service", "service/nginx-service exposed"),
    ("expose pod redis --port=6379 --name redis-service --dry-run=server -o yaml", "tier: db"),
    ("create service clusterip redis --tcp=6379:6379 --dry-run=server -o yaml", "targetPort: 6379"),
    ("create service nodeport webapp-np --tcp=8080 --node-port=30082", "service/webapp-np created"),
    ("get service webapp-np -o jsonpath={.spec.ports[0].nodePort}", "30082"),
    (
        "create configmap app-config --from-literal=APP_COLOR=blue --from-literal=APP_MODE=prod",
        "configmap/app-config created",
    ),
    (
        "create configmap app-config-file --from-file={tmp}/app.properties",
        "configmap/app-config-file created",
    ),
    ("get configmap app-config -o jsonpath={.data.APP_MODE}", "prod"),
    ("create secret generic app-secret --from-literal=DB_Host=mysql", "secret/app-secret created"),
    (
        "create secret generic db-user-pass --from-file={tmp}/username.txt "
        "--from-file={tmp}/password.txt",
        "secret/db-user-pass created",
    ),
    ("get secret app-secret -o jsonpath={.data.DB_Host}", "bXlzcWw="),
    ("create serviceaccount sa1", "serviceaccount/sa1 created"),
    (
        "create role developer --verb=list,create --resource=pods",
        "role.rbac.authorization.k8s.io/developer created",
    ),
    (
        "create rolebinding dev-user-binding --role=developer --user=dev-user",
        "rolebinding.rbac.authorization.k8s.io/dev-user-binding created",
    ),
    ("auth can-i create deployments", "yes"),
    ("auth can-i create pods --as dev-user", "yes"),
    (
        "create quota compute-quota --hard=pods=10,requests.cpu=4 --dry-run=server -o name",
        "resourcequota/compute-quota",
    ),
    ("label nodes node01 size=Large", "node/node01 labeled"),
    ("taint nodes node01 app=blue:NoSchedule", "node/node01 tainted"),
    ("get node node01 -o jsonpath={.spec.taints[0].effect}", "NoSchedule"),
    ("taint nodes node01 app=blue:NoSchedule-", "node/node01 untainted"),
    ("cordon node01", "node/node01 cordoned"),
    ("uncordon node01", "node/node01 uncordoned"),
    ("api-resources --namespaced=false", "namespaces"),
    ("get all", "service/webapp-service"),
    ("delete configmap app-config", 'configmap "app-config" deleted'),
]


# ~50 kubectl runs one after another, after the module's server start: 100 s on a loaded
# 2-core machine, too near the suite's 120 s per test
@pytest.mark.timeout(240)
def test_seed_commands(cluster: Server, tmp_path: Path) -> None:
    (tmp_path / "app.properties").write_text("APP_COLOR=blue\nAPP_MODE=prod\n")
    (tmp_path / "username.txt").write_text("admin")
    (tmp_path / "password.txt").write_text("1f2d1e2e67df")
    cluster.kubectl("1.33", "create", "namespace", NS)
    cluster.kubectl("1.33", "create", "-f", "-", input=NODE)
    failures: list[str] = []
    for command, expected in COMMANDS:
        args = command.replace("{tmp}", str(tmp_path)).split()
        res = cluster.kubectl("1.33", "-n", NS, *args, check=False)
        if res.returncode != 0 or expected not in res.stdout:
            failures.append(f"kubectl {command}\n  -> {res.returncode}: {res.stdout}{res.stderr}")
    assert not failures, f"{len(failures)} of {len(COMMANDS)} failed:\n" + "\n".join(failures)
