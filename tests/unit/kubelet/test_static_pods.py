"""Static pod manifests: defaults, UIDs, mirror pods."""

from __future__ import annotations

from pathlib import Path

from pyk8s.kubelet import static_pods


def test_read_manifests_defaults_and_mirror(tmp_path: Path) -> None:
    (tmp_path / "web.yaml").write_text(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: web}\n"
        "spec: {containers: [{name: c, image: busybox}]}\n"
    )
    (tmp_path / "bad.yaml").write_text("kind: Service\n")
    (tmp_path / "notes.txt").write_text("ignored")
    pods = static_pods.read_manifests(tmp_path, "n1")
    ((uid, pod),) = pods.items()
    assert pod["metadata"]["name"] == "web-n1" and pod["metadata"]["namespace"] == "default"
    assert pod["spec"]["nodeName"] == "n1" and pod["metadata"]["uid"] == uid
    assert static_pods.read_manifests(tmp_path, "n1").keys() == pods.keys()  # stable UID
    node = {"metadata": {"name": "n1", "uid": "node-uid"}}
    mirror = static_pods.mirror_pod(pod, node)
    assert static_pods.is_mirror(mirror) and static_pods.static_uid(mirror) == uid
    assert "uid" not in mirror["metadata"]
    assert mirror["metadata"]["ownerReferences"][0]["uid"] == "node-uid"
    (tmp_path / "web.yaml").write_text(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: web}\n"
        "spec: {containers: [{name: c, image: busybox:2}]}\n"
    )
    assert static_pods.read_manifests(tmp_path, "n1").keys() != pods.keys()
