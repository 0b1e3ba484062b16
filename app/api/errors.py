"""Every error leaves as OpenAI's error shape; nothing leaks a stack trace.

This is the one place that turns Litestar's own exceptions (no route, 405, 413, a body or
parameter that fails its type) into gateway errors. The raw chat handler, which bypasses
Litestar, builds its 405 and 413 with the same functions.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import msgspec
from litestar import Request, Response
from litestar.exceptions import (
    HTTPException,
    NotFoundException,
    SerializationException,
    ValidationException,
)
from litestar.types import ExceptionHandlersMap

from app.errors import (
    AuthenticationFailed,
    GatewayError,
    InvalidRequest,
    NotFound,
    PayloadTooLarge,
    PermissionDenied,
    RateLimited,
    Unavailable,
)
from app.wire.request import invalid_value
from app.wire.response import encoder

log = logging.getLogger("switchyard.api")

AnyRequest = Request[Any, Any, Any]

_BY_STATUS: dict[int, type[GatewayError]] = {
    400: InvalidRequest,
    401: AuthenticationFailed,
    403: PermissionDenied,
    404: NotFound,
    413: PayloadTooLarge,
    429: RateLimited,
    503: Unavailable,
}
# Litestar validates the body as the ``data`` field of the handler's signature; the client
# knows it as the document root.
_DATA_FIELD = re.compile(r"`\$\.data(?![\w-])\.?")
_BODY_MISSING = "Object missing required field `data`"


class MethodNotAllowed(GatewayError):
    status = 405
    type = "invalid_request_error"
    default_code = "method_not_allowed"


def method_not_allowed(method: str, path: str) -> MethodNotAllowed:
    return MethodNotAllowed(f"Method {method} is not allowed on {path}")


def payload_too_large() -> PayloadTooLarge:
    return PayloadTooLarge(
        "Request body is larger than the configured limit (SWITCHYARD_MAX_BODY_BYTES)"
    )


def error_response(error: GatewayError) -> Response[bytes]:
    return Response(
        content=encoder.encode(error.body()),
        status_code=error.status,
        media_type="application/json",
        headers=error.headers,
    )


def handle_gateway_error(_: AnyRequest, exc: GatewayError) -> Response[bytes]:
    return error_response(exc)


def handle_validation_error(_: AnyRequest, exc: ValidationException) -> Response[bytes]:
    """A typed body or parameter that does not decode: a 400 naming the parameter."""
    cause = exc.__cause__
    if not isinstance(cause, msgspec.ValidationError):
        return error_response(_parameter_error(exc))
    message = str(cause)
    if message == _BODY_MISSING:
        return error_response(InvalidRequest("Request body is empty: send a JSON object"))
    return error_response(invalid_value(_DATA_FIELD.sub("`$.", message)))


def _parameter_error(exc: ValidationException) -> InvalidRequest:
    """A query, path or header parameter that fails its type or bounds, named."""
    extra = exc.extra if isinstance(exc.extra, list) else []
    for problem in extra:
        if isinstance(problem, dict) and problem.get("key"):
            key = str(problem["key"])
            return InvalidRequest(f"Invalid value for '{key}': {problem.get('message')}", param=key)
    return InvalidRequest(str(exc.detail))


def handle_http_exception(request: AnyRequest, exc: HTTPException) -> Response[bytes]:
    return error_response(_as_gateway_error(request, exc))


def _as_gateway_error(request: AnyRequest, exc: HTTPException) -> GatewayError:
    status = exc.status_code
    if isinstance(exc, NotFoundException):
        return NotFound(f"No route for {request.method} {request.url.path}")
    if status == 413:
        return payload_too_large()
    if status == 405:
        return method_not_allowed(request.method, request.url.path)
    if isinstance(exc.__cause__, SerializationException):
        return InvalidRequest(f"Request body is not valid JSON: {exc.detail}")
    kind = _BY_STATUS.get(status)
    if kind is not None:
        return kind(str(exc.detail))
    error = GatewayError(str(exc.detail))
    error.status, error.type = status, "invalid_request_error" if status < 500 else "api_error"
    return error


def internal_error() -> GatewayError:
    return GatewayError("Internal error in the gateway; it has been logged")


def handle_unexpected(request: AnyRequest, exc: Exception) -> Response[bytes]:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return error_response(internal_error())


EXCEPTION_HANDLERS: ExceptionHandlersMap = {
    GatewayError: handle_gateway_error,
    ValidationException: handle_validation_error,
    HTTPException: handle_http_exception,
    Exception: handle_unexpected,
}
