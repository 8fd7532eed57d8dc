"""Every gRPC call counted and timed once, at the edge: its method, its final status name (set
by an abort, a cancellation or a passed deadline) and its duration to the last message."""

from __future__ import annotations

import asyncio
import functools
import inspect
import time
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

import grpc

from pixpress_server.servicers.guard import GuardInterceptor, rewrapped

if TYPE_CHECKING:
    from pixpress_server.servicers.errors import Context
    from pixpress_server.servicers.guard import Behaviour, Handler

# Given the method, the gRPC status name and the seconds the call took.
Record = Callable[[str, str, float], None]


def status_name(context: Context, error: BaseException | None) -> str:
    """The status the call ended with: one an abort set, else what its ending says."""
    code = context.code()
    if isinstance(code, grpc.StatusCode):
        return code.name
    if error is None:
        return grpc.StatusCode.OK.name
    if isinstance(error, asyncio.CancelledError | GeneratorExit):
        remaining = context.time_remaining()
        if remaining is not None and remaining <= 0:
            return grpc.StatusCode.DEADLINE_EXCEEDED.name
        return grpc.StatusCode.CANCELLED.name
    return grpc.StatusCode.UNKNOWN.name  # what grpc answers for an exception it is given


class _Recorded:
    """Records the call when the block ends, however it ends: its status and duration."""

    def __init__(self, method: str, record: Record, context: Context) -> None:
        self._method = method
        self._record = record
        self._context = context
        self._started = 0.0

    def __enter__(self) -> None:
        self._started = time.perf_counter()

    def __exit__(self, kind: object, error: BaseException | None, trace: object) -> None:
        seconds = time.perf_counter() - self._started
        self._record(self._method, status_name(self._context, error), seconds)


def _unary_out(behaviour: Behaviour, method: str, record: Record) -> Behaviour:
    async def call(request: Any, context: Context) -> Any:
        with _Recorded(method, record, context):
            return await behaviour(request, context)

    return call


def _streaming_out(behaviour: Behaviour, method: str, record: Record) -> Behaviour:
    if not inspect.isasyncgenfunction(behaviour):
        # Streams with `context.write` and returns (grpc's own health Watch does).
        return _unary_out(behaviour, method, record)

    async def call(request: Any, context: Context) -> AsyncIterator[Any]:
        with _Recorded(method, record, context):
            async for response in behaviour(request, context):
                yield response

    return call


def metered(handler: Handler, method: str, record: Record) -> Handler:
    """The same handler, each call recorded when it ends."""
    return rewrapped(
        handler,
        functools.partial(_unary_out, method=method, record=record),
        functools.partial(_streaming_out, method=method, record=record),
    )


class MeteredInterceptor(GuardInterceptor):
    """Records every call the server has a handler for (health and reflection included);
    listed first, so refusals by the drain gate, auth and the malformed check count too."""

    def __init__(self, record: Record) -> None:
        super().__init__(
            lambda handler, details: metered(handler, details.method, record), open_prefixes=()
        )
