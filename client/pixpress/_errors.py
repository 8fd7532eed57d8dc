"""Errors raised by the SDK: one class per gRPC status, translated from grpc errors in one place.

PixpressError                     any failed call (.code, .message, .action_id, .retry_after)
 ├── InvalidArgumentError         INVALID_ARGUMENT     bad options, unsupported or corrupt image
 │    └── InvalidOptionsError                          refused by the SDK before any call
 │                                                     (also a ValueError)
 ├── UnauthenticatedError         UNAUTHENTICATED      missing, unknown or revoked API key
 ├── PermissionDeniedError        PERMISSION_DENIED    the key may not do this
 ├── NotFoundError                NOT_FOUND            no such asset, action or route
 ├── ResourceExhaustedError       RESOURCE_EXHAUSTED   image too large, or the server is full
 ├── FailedPreconditionError      FAILED_PRECONDITION  readable but not writable here (HEIC)
 ├── DeadlineExceededError        DEADLINE_EXCEEDED    the timeout passed
 │    └── WaitTimeoutError                             actions.wait/watch gave up (.last_action)
 ├── UnavailableError             UNAVAILABLE          server unreachable or shutting down
 ├── InternalError                INTERNAL             a server bug, or a broken response stream
 └── RequestCancelledError        CANCELLED            the call was cancelled

Other status codes raise PixpressError itself. Bad arguments caught before any call
(quality out of range, say) raise InvalidOptionsError, which `except ValueError` catches too.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterable, Iterator, Mapping
from types import MappingProxyType
from typing import Any

import grpc

from pixpress._models import Action

__all__ = [
    "DeadlineExceededError",
    "FailedPreconditionError",
    "InternalError",
    "InvalidArgumentError",
    "InvalidOptionsError",
    "NotFoundError",
    "PermissionDeniedError",
    "PixpressError",
    "RequestCancelledError",
    "ResourceExhaustedError",
    "UnauthenticatedError",
    "UnavailableError",
    "WaitTimeoutError",
]


# Trailing metadata the server adds to an error: the action the call recorded, and the
# seconds after which the same call may succeed (RESOURCE_EXHAUSTED by a rate limit, say).
ACTION_ID_KEY = "pixpress-action-id"
RETRY_AFTER_KEY = "pixpress-retry-after"


class PixpressError(Exception):
    """A call failed.

    Attributes:
        code: the gRPC status.
        message: the server's public message (or the SDK's own).
        action_id: the action that recorded the failed call (follow it with
            `client.actions.wait`), "" when none was recorded.
        retry_after: seconds after which the same call may succeed, when the server said
            (RESOURCE_EXHAUSTED by a rate limit); else None.
    """

    code: grpc.StatusCode = grpc.StatusCode.UNKNOWN

    def __init__(
        self,
        message: str,
        code: grpc.StatusCode | None = None,
        *,
        action_id: str = "",
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.action_id = action_id
        self.retry_after = retry_after

    def __str__(self) -> str:
        return self.message

    def __reduce__(
        self,
    ) -> tuple[type[PixpressError], tuple[str, grpc.StatusCode], dict[str, Any]]:
        return type(self), (self.message, self.code), dict(self.__dict__)


class InvalidArgumentError(PixpressError):
    code = grpc.StatusCode.INVALID_ARGUMENT


class InvalidOptionsError(InvalidArgumentError, ValueError):
    """An argument the SDK refused before any call: a quality out of range, an empty id, an
    API key with a space inside, a missing CA file... Also a ValueError."""


class UnauthenticatedError(PixpressError):
    code = grpc.StatusCode.UNAUTHENTICATED


class PermissionDeniedError(PixpressError):
    code = grpc.StatusCode.PERMISSION_DENIED


class NotFoundError(PixpressError):
    code = grpc.StatusCode.NOT_FOUND


class ResourceExhaustedError(PixpressError):
    code = grpc.StatusCode.RESOURCE_EXHAUSTED


class FailedPreconditionError(PixpressError):
    code = grpc.StatusCode.FAILED_PRECONDITION


class DeadlineExceededError(PixpressError):
    code = grpc.StatusCode.DEADLINE_EXCEEDED


class WaitTimeoutError(DeadlineExceededError):
    """`actions.wait` or `actions.watch` reached its timeout before the action finished.

    Raised by the SDK itself, never translated from a status; `action_id` names the action
    and `last_action` is the last state seen (None if none was).
    """

    def __init__(
        self,
        message: str,
        code: grpc.StatusCode | None = None,
        *,
        action_id: str = "",
        last_action: Action | None = None,
    ) -> None:
        super().__init__(message, code, action_id=action_id)
        self.last_action = last_action


class UnavailableError(PixpressError):
    code = grpc.StatusCode.UNAVAILABLE


class InternalError(PixpressError):
    code = grpc.StatusCode.INTERNAL


class RequestCancelledError(PixpressError):
    """CANCELLED; named so as not to shadow asyncio.CancelledError."""

    code = grpc.StatusCode.CANCELLED


ERROR_CLASSES: Mapping[grpc.StatusCode, type[PixpressError]] = MappingProxyType(
    {
        cls.code: cls
        for cls in (
            InvalidArgumentError,
            UnauthenticatedError,
            PermissionDeniedError,
            NotFoundError,
            ResourceExhaustedError,
            FailedPreconditionError,
            DeadlineExceededError,
            UnavailableError,
            InternalError,
            RequestCancelledError,
        )
    }
)
"""The one mapping from status code to class; codes not listed raise PixpressError."""


def error_for(
    code: grpc.StatusCode,
    message: str,
    *,
    action_id: str = "",
    retry_after: float | None = None,
) -> PixpressError:
    """Build the PixpressError subclass for `code`, keeping the code even for unlisted ones."""
    cls = ERROR_CLASSES.get(code, PixpressError)
    return cls(message, code, action_id=action_id, retry_after=retry_after)


def _text(value: str | bytes) -> str:
    return value.decode("ascii", "replace") if isinstance(value, bytes) else value


def _seconds(text: str) -> float | None:
    """A retry hint as a finite number of seconds ≥ 0; None if the server sent nonsense."""
    try:
        seconds = float(text)
    except ValueError:
        return None
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


def metadata_details(metadata: Iterable[Any] | None) -> tuple[str, float | None]:
    """(action id, retry-after seconds) from trailing metadata; ("", None) when absent."""
    action_id, retry_after = "", None
    for key, value in metadata or ():
        if key == ACTION_ID_KEY:
            action_id = _text(value)
        elif key == RETRY_AFTER_KEY:
            retry_after = _seconds(_text(value))
    return action_id, retry_after


def from_rpc_error(error: grpc.RpcError) -> PixpressError:
    """Translate a grpc error (sync or aio) into the matching PixpressError, with the action
    id and retry hint of its trailing metadata."""
    if isinstance(error, grpc.Call | grpc.aio.AioRpcError):
        # Both kinds iterate as (key, value) pairs: a tuple (sync) or grpc.aio.Metadata.
        action_id, retry_after = metadata_details(error.trailing_metadata())
        return error_for(
            error.code(),
            error.details() or error.code().name,
            action_id=action_id,
            retry_after=retry_after,
        )
    return error_for(grpc.StatusCode.UNKNOWN, str(error))


@contextlib.contextmanager
def translating_rpc_errors() -> Iterator[None]:
    """Re-raise grpc.RpcError as PixpressError: the one place the SDK translates errors.

    A plain (sync) context manager on purpose: it wraps `await` expressions just as well.
    """
    try:
        yield
    except grpc.RpcError as error:
        raise from_rpc_error(error) from error
