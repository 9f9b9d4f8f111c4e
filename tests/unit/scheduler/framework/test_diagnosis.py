"""The FailedScheduling message built from a Diagnosis (``FitError.Error``)."""

from __future__ import annotations

import pytest

from pyk8s.scheduler.framework.diagnosis import Diagnosis, FitError
from pyk8s.scheduler.framework.interface import Code, NodeToStatus, Status

U = Code.UNSCHEDULABLE
UU = Code.UNSCHEDULABLE_AND_UNRESOLVABLE


def _d(statuses: dict[str, Status], **kw: str) -> Diagnosis:
    return Diagnosis(NodeToStatus(statuses), **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("nodes", "diagnosis", "message"),
    [
        pytest.param(
            3,
            _d(
                {
                    "a": Status(UU, "node(s) had untolerated taint {k: v}"),
                    "b": Status(U, "Insufficient cpu", "Insufficient memory"),
                    "c": Status(U, "Insufficient cpu"),
                }
            ),
            "0/3 nodes are available: 1 Insufficient memory, 1 node(s) had untolerated taint "
            "{k: v}, 2 Insufficient cpu.",
            id="counts-sorted-as-strings",
        ),
        pytest.param(
            12,
            _d(
                {f"n{i}": Status(U, "Insufficient cpu") for i in range(10)}
                | {"x": Status(U, "Too many pods"), "y": Status(U, "Too many pods")}
            ),
            "0/12 nodes are available: 10 Insufficient cpu, 2 Too many pods.",
            id="ten-sorts-before-two",
        ),
        pytest.param(
            2,
            _d({}, pre_filter_msg="pod affinity terms conflict"),
            "0/2 nodes are available: pod affinity terms conflict.",
            id="prefilter-message-replaces-histogram",
        ),
        pytest.param(
            2,
            _d(
                {"a": Status(U, "Insufficient cpu")},
                post_filter_msg="preemption: 0/2 nodes are available: "
                "2 Preemption is not helpful for scheduling.",
            ),
            "0/2 nodes are available: 1 Insufficient cpu. preemption: 0/2 nodes are available: "
            "2 Preemption is not helpful for scheduling.",
            id="nested-period-not-doubled",
        ),
    ],
)
def test_fit_error_message(nodes: int, diagnosis: Diagnosis, message: str) -> None:
    assert str(FitError("p", nodes, diagnosis)) == message


def test_absent_nodes_count_with_the_absent_status() -> None:
    nts = NodeToStatus({"a": Status(U, "Insufficient cpu")})
    nts.set_absent_nodes_status(Status(UU, "node(s) didn't satisfy plugin(s) [NodeAffinity]"))
    assert str(FitError("p", 4, Diagnosis(nts))) == (
        "0/4 nodes are available: 1 Insufficient cpu, "
        "3 node(s) didn't satisfy plugin(s) [NodeAffinity]."
    )


def test_add_plugin_status() -> None:
    d = Diagnosis()
    d.add_plugin_status(Status(U, "x").with_plugin("A"))
    d.add_plugin_status(Status(Code.PENDING, "y").with_plugin("B"))
    d.add_plugin_status(Status(U, "z"))
    assert d.unschedulable_plugins == {"A"} and d.pending_plugins == {"B"}
