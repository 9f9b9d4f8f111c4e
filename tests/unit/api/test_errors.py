from __future__ import annotations

from pyk8s.api import errors


def test_not_found_status_body() -> None:
    err = errors.NotFound.for_object("deployments", "apps", "web")
    assert err.status() == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": 'deployments.apps "web" not found',
        "reason": "NotFound",
        "details": {"name": "web", "group": "apps", "kind": "deployments"},
        "code": 404,
    }


def test_invalid_aggregates_field_errors() -> None:
    err = errors.Invalid.for_object(
        "Pod",
        "",
        "x",
        [errors.required("spec.containers"), errors.invalid_value("metadata.name", "X", "bad")],
    )
    assert err.code == 422
    assert err.message == (
        'Pod "x" is invalid: [spec.containers: Required value, '
        'metadata.name: Invalid value: "X": bad]'
    )
    assert err.status()["details"]["causes"][1] == {
        "reason": "FieldValueInvalid",
        "message": 'Invalid value: "X": bad',
        "field": "metadata.name",
    }


def test_round_trip_from_status() -> None:
    for err in (
        errors.Conflict.for_object("pods", "", "p", errors.OPTIMISTIC_LOCK_MESSAGE),
        errors.AlreadyExists.for_object("pods", "", "p"),
        errors.Gone("too old resource version: 1 (5)"),
        errors.Unauthorized("Unauthorized"),
    ):
        back = errors.ApiError.from_status(err.status())
        assert type(back) is type(err)
        assert back.message == err.message
