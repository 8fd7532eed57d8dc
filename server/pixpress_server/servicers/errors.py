"""One place where errors become gRPC statuses: typed errors keep their status and public
message; anything else is a bug, logged with its traceback and sent as INTERNAL."""

from __future__ import annotations

import functools
import math
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, ParamSpec, TypeVar

import grpc

from pixpress_server.errors import PixpressServerError, logged

P = ParamSpec("P")
R = TypeVar("R")
Context = grpc.aio.ServicerContext[Any, Any]

# Trailing metadata: seconds (a decimal string) after which the same call may succeed.
RETRY_AFTER_KEY = "pixpress-retry-after"


def trailing_metadata_for(
    context: Context, error: PixpressServerError
) -> tuple[tuple[str, str | bytes], ...]:
    """The call's trailing metadata so far, plus the error's retry hint if it has one.

    `abort` replaces whatever was set before when it is given metadata, so merge here.
    """
    existing = tuple(context.trailing_metadata() or ())
    if error.retry_after is None:
        return existing
    kept = tuple(item for item in existing if item[0] != RETRY_AFTER_KEY)
    # Rounded up: a client that waits exactly the hint must not be refused again.
    seconds = math.ceil(max(0.0, error.retry_after) * 1000) / 1000
    return (*kept, (RETRY_AFTER_KEY, f"{seconds:.3f}"))


async def abort_with(context: Context, error: Exception) -> None:
    """End the call with the error's status and public message (detail only to the log)."""
    typed = logged(error)
    await context.abort(
        grpc.StatusCode[typed.status],
        typed.public_message,
        trailing_metadata_for(context, typed),
    )


def unary_errors(
    method: Callable[[Any, Any, Context], Awaitable[R]],
) -> Callable[[Any, Any, Context], Awaitable[R]]:
    """Wrap a servicer method that returns one response."""

    @functools.wraps(method)
    async def call(self: Any, request: Any, context: Context) -> R:
        try:
            return await method(self, request, context)
        except Exception as error:  # typed errors and bugs alike end the call cleanly
            await abort_with(context, error)
            raise AssertionError("abort() raises") from None

    return call


def streaming_errors(
    method: Callable[[Any, Any, Context], AsyncIterator[R]],
) -> Callable[[Any, Any, Context], AsyncIterator[R]]:
    """Wrap a servicer method that streams its responses."""

    @functools.wraps(method)
    async def call(self: Any, request: Any, context: Context) -> AsyncIterator[R]:
        try:
            async for response in method(self, request, context):
                yield response
        except Exception as error:
            await abort_with(context, error)

    return call
