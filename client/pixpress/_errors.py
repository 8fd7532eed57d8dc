"""Errors raised by the SDK: one class per gRPC status, translated from grpc errors in one place.

PixpressError                     any failed call (carries .code and .message)
 ├── InvalidArgumentError         INVALID_ARGUMENT     bad options, unsupported or corrupt image
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
(quality out of range, say) raise ValueError, not PixpressError.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from types import MappingProxyType

import grpc

from pixpress._models import Action

__all__ = [
    "DeadlineExceededError",
    "FailedPreconditionError",
    "InternalError",
    "InvalidArgumentError",
    "NotFoundError",
    "PermissionDeniedError",
    "PixpressError",
    "RequestCancelledError",
    "ResourceExhaustedError",
    "UnauthenticatedError",
    "UnavailableError",
    "WaitTimeoutError",
]


class PixpressError(Exception):
    """A call failed. `code` is the gRPC status, `message` the server's public message."""

    code: grpc.StatusCode = grpc.StatusCode.UNKNOWN

    def __init__(self, message: str, code: grpc.StatusCode | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code

    def __str__(self) -> str:
        return self.message

    def __reduce__(self) -> tuple[type[PixpressError], tuple[str, grpc.StatusCode]]:
        return type(self), (self.message, self.code)


class InvalidArgumentError(PixpressError):
    code = grpc.StatusCode.INVALID_ARGUMENT


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
        super().__init__(message, code)
        self.action_id = action_id
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


def error_for(code: grpc.StatusCode, message: str) -> PixpressError:
    """Build the PixpressError subclass for `code`, keeping the code even for unlisted ones."""
    return ERROR_CLASSES.get(code, PixpressError)(message, code)


def from_rpc_error(error: grpc.RpcError) -> PixpressError:
    """Translate a grpc error (sync or aio) into the matching PixpressError."""
    if isinstance(error, grpc.Call | grpc.aio.AioRpcError):
        return error_for(error.code(), error.details() or error.code().name)
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
