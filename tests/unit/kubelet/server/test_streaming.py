"""The error channel's ``Status`` as the kubelet writes it (v4), and as the API server's
stream translator writes it to v5 clients."""

from __future__ import annotations

from pyk8s.kubelet.server import streaming


def test_exit_status_names_the_command_as_go_prints_a_slice() -> None:
    st = streaming.status(3, ["sh", "-c", "exit 3"])
    assert st["message"] == (
        "command terminated with non-zero exit code: error executing command "
        "[sh -c exit 3], exit code 3"
    )
    assert st["reason"] == "NonZeroExitCode"
    assert st["details"] == {"causes": [{"reason": "ExitCode", "message": "3"}]}
    assert streaming.status(0, ["true"]) == {"metadata": {}, "status": "Success"}


def test_translated_exit_status() -> None:
    st = streaming.status(3, ["sh", "-c", "exit 3"], translated=True)
    assert st["message"] == (
        "command terminated with non-zero exit code: command terminated with exit code 3"
    )
    assert st["details"] == {"causes": [{"reason": "ExitCode", "message": "3"}]}


def test_internal_error_is_wrapped_once_more_when_translated() -> None:
    assert streaming.internal_error("boom") == {
        "metadata": {},
        "status": "Failure",
        "message": "Internal error occurred: boom",
        "reason": "InternalError",
        "details": {"causes": [{"message": "boom"}]},
        "code": 500,
    }
    st = streaming.internal_error("boom", translated=True)
    assert st["message"] == "Internal error occurred: Internal error occurred: boom"
    assert st["details"] == {"causes": [{"message": "Internal error occurred: boom"}]}
