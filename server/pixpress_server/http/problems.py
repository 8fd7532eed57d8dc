"""Errors as RFC 9457 problems: the typed domain error's gRPC status picks the HTTP status,
and the `code` member keeps the gRPC status name."""

from __future__ import annotations

import math
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from fastapi.responses import JSONResponse

from pixpress_server.errors import (
    PixpressServerError,
    StatusName,
    Throttled,
    logged,
)

PROBLEM_JSON = "application/problem+json"

CLIENT_CLOSED_REQUEST = 499  # nginx's: the client went away; only the log reads it

_HTTP_STATUS: Mapping[StatusName, int] = {
    StatusName.INVALID_ARGUMENT: HTTPStatus.BAD_REQUEST,
    StatusName.UNAUTHENTICATED: HTTPStatus.UNAUTHORIZED,
    StatusName.PERMISSION_DENIED: HTTPStatus.FORBIDDEN,
    StatusName.NOT_FOUND: HTTPStatus.NOT_FOUND,
    StatusName.FAILED_PRECONDITION: HTTPStatus.CONFLICT,
    StatusName.RESOURCE_EXHAUSTED: HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
    StatusName.UNAVAILABLE: HTTPStatus.SERVICE_UNAVAILABLE,
    StatusName.DEADLINE_EXCEEDED: HTTPStatus.GATEWAY_TIMEOUT,
    StatusName.INTERNAL: HTTPStatus.INTERNAL_SERVER_ERROR,
    StatusName.CANCELLED: CLIENT_CLOSED_REQUEST,
}


def http_status(error: PixpressServerError) -> int:
    """The HTTP status for a typed error: RESOURCE_EXHAUSTED is 429 for a rate limit, 413 for
    a size or quota."""
    if isinstance(error, Throttled):
        return HTTPStatus.TOO_MANY_REQUESTS
    return _HTTP_STATUS.get(error.status, HTTPStatus.INTERNAL_SERVER_ERROR)


def _title(status: int) -> str:
    if status == CLIENT_CLOSED_REQUEST:
        return "Client Closed Request"
    return HTTPStatus(status).phrase


def problem(
    error: BaseException, instance: str, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    """The problem+json response for `error` (anything untyped is a bug: 500, logged)."""
    typed = logged(error)
    headers = dict(headers or {})
    retry_after = None
    if typed.retry_after is not None:
        # Whole seconds, rounded up: a client that waits exactly this must not be refused again.
        retry_after = max(1, math.ceil(typed.retry_after))
        headers["Retry-After"] = str(retry_after)
    return problem_response(
        http_status(typed), typed.public_message, instance, str(typed.status), headers, retry_after
    )


def problem_response(
    status: int,
    detail: str,
    instance: str,
    code: str,
    headers: Mapping[str, str] | None = None,
    retry_after: int | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": _title(status),
        "status": status,
        "detail": detail,
        "instance": instance,
        "code": code,
    }
    if retry_after is not None:
        body["retry_after"] = retry_after
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_JSON)
