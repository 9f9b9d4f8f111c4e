"""Node labels, capacity and conditions."""

from __future__ import annotations

from pyk8s.kubelet import node_status

MACHINE = node_status.MachineInfo(
    cpus=4, memory_bytes=8 * 1024**3, storage_bytes=100 * 1024**3, machine_id="m",
    system_uuid="s", boot_id="b", kernel_version="6.1", os_image="Debian",
    architecture="amd64", addresses=(("InternalIP", "10.0.0.2"), ("Hostname", "n1")),
)  # fmt: skip
OK = node_status.Pressure(4 * 1024**3, 50 * 1024**3, 30000)


def test_labels_and_capacity() -> None:
    labels = node_status.labels("n1", MACHINE, {"zone": "a"}, control_plane=True)
    assert labels["kubernetes.io/hostname"] == "n1"
    assert labels["kubernetes.io/arch"] == "amd64"
    assert labels[node_status.CONTROL_PLANE_LABEL] == "true" and labels["zone"] == "a"
    cap = node_status.capacity(MACHINE, 110)
    assert cap["cpu"] == "4" and cap["memory"] == f"{8 * 1024**2}Ki" and cap["pods"] == "110"


def test_conditions_and_transitions() -> None:
    conds = node_status.conditions([], MACHINE, OK, True, "T1")
    assert {c["type"]: (c["status"], c["reason"]) for c in conds} == {
        "MemoryPressure": ("False", "KubeletHasSufficientMemory"),
        "DiskPressure": ("False", "KubeletHasNoDiskPressure"),
        "PIDPressure": ("False", "KubeletHasSufficientPID"),
        "Ready": ("True", "KubeletReady"),
    }
    full = node_status.Pressure(4 * 1024**3, 1024**3, 30000)
    later = node_status.conditions(conds, MACHINE, full, True, "T2")
    by = {c["type"]: c for c in later}
    assert by["DiskPressure"]["status"] == "True"
    assert by["DiskPressure"]["lastTransitionTime"] == "T2"
    assert by["Ready"]["lastTransitionTime"] == "T1" and by["Ready"]["lastHeartbeatTime"] == "T2"


def test_status_node_info() -> None:
    st = node_status.status(MACHINE, max_pods=110, runtime_version="runc://1.1.5", port=10250,
                            conds=[], images=[])  # fmt: skip
    assert st["nodeInfo"]["containerRuntimeVersion"] == "runc://1.1.5"
    assert st["nodeInfo"]["kubeletVersion"].startswith("v1.33.")
    assert st["daemonEndpoints"]["kubeletEndpoint"]["Port"] == 10250
    assert st["addresses"][0] == {"type": "InternalIP", "address": "10.0.0.2"}
