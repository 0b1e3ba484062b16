"""Every error leaves as OpenAI's error shape; nothing leaks a stack trace."""

from __future__ import annotations

import logging

from litestar import Request, Response
from litestar.exceptions import HTTPException, NotFoundException

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
from app.wire.response import encoder

log = logging.getLogger("switchyard.api")

_BY_STATUS: dict[int, type[GatewayError]] = {
    400: InvalidRequest,
    401: AuthenticationFailed,
    403: PermissionDenied,
    404: NotFound,
    413: PayloadTooLarge,
    429: RateLimited,
    503: Unavailable,
}


def error_response(error: GatewayError) -> Response[bytes]:
    return Response(
        content=encoder.encode(error.body()),
        status_code=error.status,
        media_type="application/json",
        headers=error.headers,
    )


def handle_gateway_error(_: Request, exc: GatewayError) -> Response[bytes]:
    return error_response(exc)


def handle_http_exception(request: Request, exc: HTTPException) -> Response[bytes]:
    status = exc.status_code
    if isinstance(exc, NotFoundException):
        message = f"No route for {request.method} {request.url.path}"
    elif status == 413:
        message = "Request body is larger than the configured limit (SWITCHYARD_MAX_BODY_BYTES)"
    elif status == 405:
        message = f"Method {request.method} is not allowed on {request.url.path}"
    else:
        message = str(exc.detail)
    kind = _BY_STATUS.get(status)
    if kind is None:
        error = GatewayError(message)
        error.status, error.type = status, "invalid_request_error" if status < 500 else "api_error"
    else:
        error = kind(message)
    return error_response(error)


def handle_unexpected(request: Request, exc: Exception) -> Response[bytes]:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return error_response(GatewayError("Internal error in the gateway; it has been logged"))


EXCEPTION_HANDLERS = {
    GatewayError: handle_gateway_error,
    HTTPException: handle_http_exception,
    Exception: handle_unexpected,
}
