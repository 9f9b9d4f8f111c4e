"""Stand-in for ``pyk8s.api.errors`` until it lands on main; same names, same shapes.

The client raises these; once ``pyk8s/api/errors.py`` is on main this module is
deleted and the client imports that one (the API server renders the same classes).
"""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """An error the API answered with a ``Status`` body."""

    code: int = 500
    reason: str = "InternalError"

    def __init__(
        self,
        message: str,
        *,
        details: dict[str, Any] | None = None,
        code: int | None = None,
        reason: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.details = details
        if code is not None:
            self.code = code
        if reason is not None:
            self.reason = reason

    @classmethod
    def from_status(cls, status: dict[str, Any]) -> ApiError:
        reason = status.get("reason", "")
        code = int(status.get("code") or 500)
        for klass in _BY_REASON.get(reason, ()):
            if klass.code == code:
                return klass(status.get("message", ""), details=status.get("details"))
        return ApiError(
            status.get("message", ""), details=status.get("details"), code=code, reason=reason
        )


class BadRequest(ApiError):
    code = 400
    reason = "BadRequest"


class Unauthorized(ApiError):
    code = 401
    reason = "Unauthorized"


class Forbidden(ApiError):
    code = 403
    reason = "Forbidden"


class NotFound(ApiError):
    code = 404
    reason = "NotFound"

    @classmethod
    def for_object(cls, resource: str, group: str, name: str) -> NotFound:
        q = f"{resource}.{group}" if group else resource
        details: dict[str, Any] = {"name": name, "kind": resource}
        if group:
            details["group"] = group
        return cls(f'{q} "{name}" not found', details=details)


class MethodNotAllowed(ApiError):
    code = 405
    reason = "MethodNotAllowed"


class AlreadyExists(ApiError):
    code = 409
    reason = "AlreadyExists"


class Conflict(ApiError):
    code = 409
    reason = "Conflict"


class Gone(ApiError):
    code = 410
    reason = "Expired"


class Invalid(ApiError):
    code = 422
    reason = "Invalid"


class TooManyRequests(ApiError):
    code = 429
    reason = "TooManyRequests"


class InternalError(ApiError):
    code = 500
    reason = "InternalError"


class Timeout(ApiError):
    code = 504
    reason = "Timeout"


_BY_REASON: dict[str, tuple[type[ApiError], ...]] = {}
for _klass in (
    BadRequest,
    Unauthorized,
    Forbidden,
    NotFound,
    MethodNotAllowed,
    AlreadyExists,
    Conflict,
    Gone,
    Invalid,
    TooManyRequests,
    InternalError,
    Timeout,
):
    _BY_REASON[_klass.reason] = (*_BY_REASON.get(_klass.reason, ()), _klass)
