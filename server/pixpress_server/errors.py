"""Typed errors: each carries the gRPC status it maps to and a message that is safe to send.

PixpressServerError
 ├── InvalidInput          INVALID_ARGUMENT      bad options, unsupported or corrupt image, limits
 ├── TooLarge              RESOURCE_EXHAUSTED    input bytes or memory estimate above a limit
 ├── Throttled             RESOURCE_EXHAUSTED    a rate limit or a full per-owner queue: try
 │                                               again after `retry_after`
 ├── Unencodable           FAILED_PRECONDITION   readable but cannot be written here (HEVC)
 ├── WrongState            FAILED_PRECONDITION   e.g. cancelling a finished action
 ├── NotFound              NOT_FOUND             unknown id, or another owner's
 ├── Unauthenticated       UNAUTHENTICATED       missing, unknown or revoked API key
 ├── Forbidden             PERMISSION_DENIED     a private route used with another owner's key
 ├── WorkerUnavailable     UNAVAILABLE           a worker process died mid-request
 ├── StorageUnavailable    UNAVAILABLE           the blob storage (S3) did not answer
 ├── StoreUnavailable      UNAVAILABLE           the PostgreSQL store did not answer
 ├── ClientGone            CANCELLED             an HTTP client disconnected mid-request
 └── InternalFailure       INTERNAL              a bug or a libvips failure on valid input

Errors cross the worker-process boundary by pickling, so they hold only plain strings.
Internal detail (libvips' own text) goes in `detail`, which is logged and never sent.
`retry_after` (seconds, any error may carry it) is sent as trailing metadata
`pixpress-retry-after`: when the same call may succeed if tried again.
"""

from __future__ import annotations

import logging
from enum import StrEnum

from pixpress_server.caller import current_client, current_owner

logger = logging.getLogger(__name__)


class StatusName(StrEnum):
    """gRPC status names (the members of grpc.StatusCode), without importing grpc here."""

    INVALID_ARGUMENT = "INVALID_ARGUMENT"
    RESOURCE_EXHAUSTED = "RESOURCE_EXHAUSTED"
    FAILED_PRECONDITION = "FAILED_PRECONDITION"
    INTERNAL = "INTERNAL"
    UNAVAILABLE = "UNAVAILABLE"
    DEADLINE_EXCEEDED = "DEADLINE_EXCEEDED"
    CANCELLED = "CANCELLED"
    NOT_FOUND = "NOT_FOUND"
    UNAUTHENTICATED = "UNAUTHENTICATED"
    PERMISSION_DENIED = "PERMISSION_DENIED"


class PixpressServerError(Exception):
    """Base class: `public_message` goes to the client, `detail` only to the log."""

    status: StatusName = StatusName.INTERNAL

    def __init__(
        self, public_message: str, detail: str = "", *, retry_after: float | None = None
    ) -> None:
        super().__init__(public_message, detail)
        self.public_message = public_message
        self.detail = detail
        # An attribute, not an argument in `args`: pickling restores it from __dict__.
        self.retry_after = retry_after

    def __str__(self) -> str:
        return self.public_message


class InvalidInput(PixpressServerError):
    status = StatusName.INVALID_ARGUMENT


class TooLarge(PixpressServerError):
    status = StatusName.RESOURCE_EXHAUSTED


class Throttled(PixpressServerError):
    status = StatusName.RESOURCE_EXHAUSTED


class Unencodable(PixpressServerError):
    status = StatusName.FAILED_PRECONDITION


class InternalFailure(PixpressServerError):
    status = StatusName.INTERNAL


class WorkerUnavailable(PixpressServerError):
    status = StatusName.UNAVAILABLE


class StorageUnavailable(PixpressServerError):
    status = StatusName.UNAVAILABLE


class StoreUnavailable(PixpressServerError):
    status = StatusName.UNAVAILABLE


class ShuttingDown(PixpressServerError):
    status = StatusName.UNAVAILABLE


class WrongState(PixpressServerError):
    status = StatusName.FAILED_PRECONDITION


class NotFound(PixpressServerError):
    status = StatusName.NOT_FOUND


class Unauthenticated(PixpressServerError):
    status = StatusName.UNAUTHENTICATED


class Forbidden(PixpressServerError):
    status = StatusName.PERMISSION_DENIED


class ClientGone(PixpressServerError):
    status = StatusName.CANCELLED


def logged(error: BaseException) -> PixpressServerError:
    """The typed error a failed request answers with, logged once (detail only to the log);
    anything untyped is a bug: INTERNAL, with its traceback in the log."""
    if not isinstance(error, PixpressServerError):
        logger.error("unexpected error serving a request", exc_info=error)
        error = InternalFailure("internal error", repr(error))
    logger.info(
        "request failed owner=%s client=%s status=%s message=%r detail=%r",
        current_owner(),
        current_client(),
        error.status,
        error.public_message,
        error.detail,
    )
    return error
