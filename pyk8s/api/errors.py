"""API errors as the Kubernetes ``Status`` object describes them.

Mirrors k8s.io/apimachinery/pkg/api/errors/errors.go: each class is one
``StatusReason``, carries the HTTP code, and renders to the exact ``Status``
body the real API server sends (kubectl prints ``Error from server (NotFound):
pods "x" not found`` from it). The API server renders any :class:`ApiError` in
one place; the client parses a ``Status`` back into the same class, so callers
catch ``NotFound`` or ``Conflict`` by type.

::

    ApiError
     +-- BadRequest           400  malformed body, bad selector, namespace mismatch
     +-- Unauthorized         401  no or bad credentials
     +-- Forbidden            403  authorizer said no; namespace terminating
     +-- NotFound             404  object, namespace or resource missing
     +-- MethodNotAllowed     405  verb not served by the resource
     +-- AlreadyExists        409  create of a name that exists
     +-- Conflict             409  stale resourceVersion, failed precondition
     +-- Gone                 410  resourceVersion compacted (reason Expired)
     +-- RequestEntityTooLarge 413
     +-- UnsupportedMediaType 415  body encoding not understood
     +-- NotAcceptable        406  no acceptable response encoding
     +-- Invalid              422  validation failed; carries FieldErrors
     +-- TooManyRequests      429
     +-- InternalError        500
     +-- ServiceUnavailable   503  e.g. a proxied Service with no endpoints
     +-- Timeout              504  e.g. resourceVersion too large
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class FieldError:
    """One field problem (apimachinery ``field.Error``): ``type`` is the
    ``CauseType`` (``FieldValueInvalid``, ``FieldValueRequired`` ...)."""

    type: str
    field: str
    detail: str = ""
    value: Any = None
    show_value: bool = True

    def message(self) -> str:
        label = {
            "FieldValueInvalid": "Invalid value",
            "FieldValueTypeInvalid": "Invalid value",
            "FieldValueRequired": "Required value",
            "FieldValueNotSupported": "Unsupported value",
            "FieldValueForbidden": "Forbidden",
            "FieldValueDuplicate": "Duplicate value",
            "FieldValueTooLong": "Too long",
            "FieldValueTooMany": "Too many",
            "FieldValueNotFound": "Not found",
        }.get(self.type, self.type)
        text = label
        if self.show_value and self.type in (
            "FieldValueInvalid",
            "FieldValueTypeInvalid",
            "FieldValueNotSupported",
            "FieldValueDuplicate",
            "FieldValueNotFound",
        ):
            text += f": {_quote_value(self.value)}"
        if self.detail:
            text += f": {self.detail}"
        return text

    def full(self) -> str:
        return f"{self.field}: {self.message()}"

    def cause(self) -> dict[str, Any]:
        return {"reason": self.type, "message": self.message(), "field": self.field}


class Raw(str):
    """A bad value shown as it is, unquoted (a Go struct as upstream prints it with ``%#v``)."""

    __slots__ = ()


def _quote_value(value: Any) -> str:
    if isinstance(value, Raw):
        return str(value)
    if isinstance(value, str):
        escaped = value.replace("\\", "\\\\").replace('"', '\\"')
        return f'"{escaped}"'
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict) and all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        # a map[string]string as Go's %#v prints it (labels, selectors): keys sorted
        body = ", ".join(f"{_quote_value(k)}:{_quote_value(value[k])}" for k in sorted(value))
        return f"map[string]string{{{body}}}"
    return str(value)


def _go_strings(values: Any) -> str:
    if values is None:
        return "[]string(nil)"
    return "[]string{" + ", ".join(_quote_value(str(v)) for v in values) + "}"


def go_label_selector(sel: Any) -> Raw:
    """A ``metav1.LabelSelector`` as Go's ``%#v`` prints it (an immutable selector's value)."""
    sel = sel if isinstance(sel, dict) else {}
    labels = sel.get("matchLabels")
    shown_labels = (
        _quote_value({str(k): str(v) for k, v in labels.items()})
        if isinstance(labels, dict) and labels
        else "map[string]string(nil)"
    )
    exprs = sel.get("matchExpressions")
    if isinstance(exprs, list) and exprs:
        items = [
            "v1.LabelSelectorRequirement{"
            f"Key:{_quote_value(str(e.get('key', '')))}, "
            f"Operator:{_quote_value(str(e.get('operator', '')))}, "
            f"Values:{_go_strings(e.get('values'))}}}"
            for e in exprs
            if isinstance(e, dict)
        ]
        shown_exprs = "[]v1.LabelSelectorRequirement{" + ", ".join(items) + "}"
    else:
        shown_exprs = "[]v1.LabelSelectorRequirement(nil)"
    return Raw(f"v1.LabelSelector{{MatchLabels:{shown_labels}, MatchExpressions:{shown_exprs}}}")


def invalid_value(field: str, value: Any, detail: str) -> FieldError:
    return FieldError("FieldValueInvalid", field, detail, value)


def required(field: str, detail: str = "") -> FieldError:
    return FieldError("FieldValueRequired", field, detail, show_value=False)


def forbidden(field: str, detail: str) -> FieldError:
    return FieldError("FieldValueForbidden", field, detail, show_value=False)


def not_supported(field: str, value: Any, valid: list[str]) -> FieldError:
    detail = "supported values: " + ", ".join(f'"{v}"' for v in valid)
    return FieldError("FieldValueNotSupported", field, detail, value)


class ApiError(Exception):
    """Base of every error the API answers with a ``Status``."""

    code: int = 500
    reason: str = "InternalError"
    empty_details: bool = False
    """Whether ``details={}`` is written as such (``NewGenericServerResponse`` does)."""

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

    def status(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
        }
        if self.reason:
            body["reason"] = self.reason
        if self.details or (self.details is not None and self.empty_details):
            body["details"] = self.details
        body["code"] = self.code
        return body

    @classmethod
    def from_status(cls, status: dict[str, Any]) -> ApiError:
        """The error a ``Status`` body describes, as the most specific class."""
        reason = status.get("reason", "")
        code = int(status.get("code") or 500)
        for klass in _BY_REASON.get(reason, ()):
            if klass.code == code:
                return klass(status.get("message", ""), details=status.get("details"))
        return ApiError(
            status.get("message", ""), details=status.get("details"), code=code, reason=reason
        )


def _qualified(resource: str, group: str) -> str:
    return f"{resource}.{group}" if group else resource


def _details(name: str, resource: str, group: str, **extra: Any) -> dict[str, Any]:
    d: dict[str, Any] = {"name": name} if name else {}
    if group:
        d["group"] = group
    if resource:
        d["kind"] = resource
    d.update(extra)
    return d


class BadRequest(ApiError):
    """Raised for malformed bodies, bad selectors and parameters."""

    code = 400
    reason = "BadRequest"


class Unauthorized(ApiError):
    """Raised when a request carries no valid credentials."""

    code = 401
    reason = "Unauthorized"


class Forbidden(ApiError):
    """Raised when authorization or admission refuses a request."""

    code = 403
    reason = "Forbidden"

    @classmethod
    def for_object(
        cls, resource: str, group: str, name: str, why: str, causes: list[dict[str, Any]] | None
    ) -> Forbidden:
        q = _qualified(resource, group)
        msg = f'{q} "{name}" is forbidden: {why}' if name else f"{q} is forbidden: {why}"
        details = _details(name, resource, group)
        if causes:
            details["causes"] = causes
        return cls(msg, details=details)


class NotFound(ApiError):
    """Raised when the object (or its namespace, or the resource) does not exist."""

    code = 404
    reason = "NotFound"

    @classmethod
    def for_object(cls, resource: str, group: str, name: str) -> NotFound:
        q = _qualified(resource, group)
        return cls(f'{q} "{name}" not found', details=_details(name, resource, group))

    @classmethod
    def no_resource(cls) -> NotFound:
        return cls("the server could not find the requested resource", details={})


class MethodNotAllowed(ApiError):
    """Raised when the resource does not support the verb."""

    code = 405
    reason = "MethodNotAllowed"


class AlreadyExists(ApiError):
    """Raised by create when the name is taken."""

    code = 409
    reason = "AlreadyExists"

    @classmethod
    def for_object(cls, resource: str, group: str, name: str) -> AlreadyExists:
        q = _qualified(resource, group)
        return cls(f'{q} "{name}" already exists', details=_details(name, resource, group))


class Conflict(ApiError):
    """Raised on a stale resourceVersion or a failed uid precondition."""

    code = 409
    reason = "Conflict"

    @classmethod
    def for_object(cls, resource: str, group: str, name: str, why: str) -> Conflict:
        q = _qualified(resource, group)
        return cls(
            f'Operation cannot be fulfilled on {q} "{name}": {why}',
            details=_details(name, resource, group),
        )


OPTIMISTIC_LOCK_MESSAGE = (
    "the object has been modified; please apply your changes to the latest version and try again"
)


class Gone(ApiError):
    """Raised when a resourceVersion or continue token is older than compaction."""

    code = 410
    reason = "Expired"


class NotAcceptable(ApiError):
    """Raised when no encoding the client accepts can be produced."""

    code = 406
    reason = "NotAcceptable"


class RequestEntityTooLarge(ApiError):
    code = 413
    reason = "RequestEntityTooLarge"


class UnsupportedMediaType(ApiError):
    """Raised for a body in an encoding the server cannot decode."""

    code = 415
    reason = "UnsupportedMediaType"


class Invalid(ApiError):
    """Raised when validation fails (``errors.NewInvalid(kind, name, errs)``)."""

    code = 422
    reason = "Invalid"

    @classmethod
    def for_object(cls, kind: str, group: str, name: str, errs: list[FieldError]) -> Invalid:
        qkind = f"{kind}.{group}" if group else kind
        joined = ", ".join(e.full() for e in errs)
        agg = joined if len(errs) == 1 else f"[{joined}]"
        details: dict[str, Any] = {"name": name} if name else {}
        if group:
            details["group"] = group
        if kind:
            details["kind"] = kind
        details["causes"] = [e.cause() for e in errs]
        err = cls(f'{qkind} "{name}" is invalid: {agg}', details=details)
        err.field_errors = list(errs)
        return err

    field_errors: list[FieldError] = []


class UnprocessableEntity(ApiError):
    """Raised when a patch cannot be applied to the object."""

    code = 422
    reason = "Invalid"


class JSONPatchFailed(UnprocessableEntity):
    """A JSON patch whose operations do not apply: upstream answers with
    ``NewGenericServerResponse(422, ...)``, which keeps none of the patch library's words
    (kubectl prints ``The request is invalid: the server rejected our request due to an
    error in our request``)."""

    empty_details = True

    def __init__(self) -> None:
        super().__init__(
            "the server rejected our request due to an error in our request", details={}
        )


class TooManyRequests(ApiError):
    code = 429
    reason = "TooManyRequests"


class InternalError(ApiError):
    code = 500
    reason = "InternalError"


class ServiceUnavailable(ApiError):
    code = 503
    reason = "ServiceUnavailable"


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
    NotAcceptable,
    RequestEntityTooLarge,
    UnsupportedMediaType,
    Invalid,
    TooManyRequests,
    InternalError,
    ServiceUnavailable,
    Timeout,
):
    _BY_REASON[_klass.reason] = (*_BY_REASON.get(_klass.reason, ()), _klass)
