"""Semantic validation seen through the real kubectl: upstream's 422 messages."""

from __future__ import annotations

import pytest

from tests.e2e.apiserver.conftest import Server

pytestmark = pytest.mark.e2e

BINDING = """
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: rb}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: %s, name: view}
subjects: [{kind: User, name: alice}]
"""


def test_rbac_storage_cron_and_pdb_errors(server: Server) -> None:
    k = server.kubectl
    k("1.33", "create", "namespace", "valid")
    res = k("1.33", "-n", "valid", "apply", "-f", "-", input=BINDING % "Pod", check=False)
    assert res.returncode == 1
    assert (
        'The RoleBinding "rb" is invalid: roleRef.kind: Unsupported value: "Pod": supported '
        'values: "Role", "ClusterRole"'
    ) in res.stderr
    k("1.33", "-n", "valid", "apply", "-f", "-", input=BINDING % "ClusterRole")
    res = k("1.33", "-n", "valid", "patch", "rolebinding", "rb", "--type=merge",
            "-p", '{"roleRef":{"name":"edit"}}', check=False)  # fmt: skip
    assert res.returncode == 1
    assert "cannot change roleRef" in res.stderr
    res = k("1.33", "-n", "valid", "create", "role", "r", "--verb=get", "--resource=pods")
    res = k("1.33", "-n", "valid", "create", "cronjob", "c", "--image=busybox",
            "--schedule=0 0 * * 8", check=False)  # fmt: skip
    assert res.returncode == 1
    assert (
        'CronJob.batch "c" is invalid: spec.schedule: Invalid value: "0 0 * * 8": end of range (8) '
        "above maximum (6): 8"
    ) in res.stderr
    res = k("1.33", "-n", "valid", "create", "pdb", "p", "--selector=app=x",
            "--max-unavailable=120%", check=False)  # fmt: skip
    assert res.returncode == 1
    assert "spec.maxUnavailable: Invalid value: 120%: must not be greater than 100%" in res.stderr
    pvc = (
        "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: claim}\n"
        "spec: {accessModes: [ReadWriteOnce]}\n"
    )
    res = k("1.33", "-n", "valid", "create", "-f", "-", input=pvc, check=False)
    assert res.returncode == 1
    assert (
        'The PersistentVolumeClaim "claim" is invalid: spec.resources[storage]: Required value'
        in res.stderr
    )
