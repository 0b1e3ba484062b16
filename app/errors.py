"""Errors that cross layers and end up as OpenAI-shaped error responses.

Lower layers raise these; only the API layer turns them into HTTP responses, so the body
is always ``{"error": {"message", "type", "param", "code"}}`` and never a stack trace.
"""

from __future__ import annotations

from typing import Any

import msgspec
from msgspec import UNSET, UnsetType


class ErrorDetail(msgspec.Struct):
    message: str
    type: str
    param: str | None = None
    code: str | None = None
    problems: list[Any] | UnsetType = UNSET  # every config problem, for admin writes


class ErrorBody(msgspec.Struct):
    error: ErrorDetail


class GatewayError(Exception):
    status: int = 500
    type: str = "api_error"
    default_code: str | None = None

    def __init__(
        self,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
        problems: list[Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.code = code or self.default_code
        self.headers = headers or {}
        self.problems = problems

    def body(self) -> ErrorBody:
        problems = self.problems if self.problems is not None else UNSET
        return ErrorBody(ErrorDetail(self.message, self.type, self.param, self.code, problems))


class InvalidRequest(GatewayError):
    status = 400
    type = "invalid_request_error"


class AuthenticationFailed(GatewayError):
    status = 401
    type = "authentication_error"
    default_code = "invalid_api_key"


class PermissionDenied(GatewayError):
    status = 403
    type = "permission_error"


class NotFound(GatewayError):
    status = 404
    type = "not_found_error"


class Conflict(GatewayError):
    status = 409
    type = "conflict_error"


class PayloadTooLarge(GatewayError):
    status = 413
    type = "invalid_request_error"
    default_code = "payload_too_large"


class RateLimited(GatewayError):
    status = 429
    type = "rate_limit_error"
    default_code = "rate_limit_exceeded"


class ProviderFailed(GatewayError):
    status = 502
    type = "provider_error"
    default_code = "all_providers_failed"


class Unavailable(GatewayError):
    status = 503
    type = "service_unavailable"


class GatewayTimeout(GatewayError):
    status = 504
    type = "timeout_error"
    default_code = "timeout"
