"""Run a check before a gRPC handler's behaviour, whatever its shape; a typed error raised by
the check ends the call the way a servicer's own errors do (`abort_with`).

`GuardInterceptor` applies one such wrapping to every call but health and reflection: the
drain gate, authentication and the malformed-message check are each one of these.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any

import grpc

from pixpress_server.errors import PixpressServerError
from pixpress_server.servicers.errors import Context, abort_with

if TYPE_CHECKING:
    from typing import TypeAlias

    Handler: TypeAlias = grpc.RpcMethodHandler[Any, Any]

Behaviour = Callable[..., Any]
# Given the request (or the request iterator) and the context, returns what the behaviour
# receives instead; raises a PixpressServerError to refuse the call.
Check = Callable[[Any, Context], Awaitable[Any]]
Deserializer = Callable[[bytes], Any]
# Given a handler's behaviour, the behaviour to serve it with.
Wrapping = Callable[[Behaviour], Behaviour]
# Given a call's handler and details, the handler to serve it with.
Guarding = Callable[["Handler", grpc.HandlerCallDetails], "Handler"]

OPEN_METHOD_PREFIXES = ("/grpc.health.v1.Health/", "/grpc.reflection.")


def _unary_out(behaviour: Behaviour, check: Check) -> Behaviour:
    async def call(request: Any, context: Context) -> Any:
        try:
            request = await check(request, context)
        except PixpressServerError as error:
            await abort_with(context, error)
        return await behaviour(request, context)

    return call


def _streaming_out(behaviour: Behaviour, check: Check) -> Behaviour:
    async def call(request: Any, context: Context) -> AsyncIterator[Any]:
        try:
            request = await check(request, context)
        except PixpressServerError as error:
            await abort_with(context, error)
            return
        async for response in behaviour(request, context):
            yield response

    return call


def guard(
    handler: Handler, check: Check, request_deserializer: Deserializer | None = None
) -> Handler:
    """The same handler with `check` run first (and another request deserializer if given)."""
    return rewrapped(
        handler,
        functools.partial(_unary_out, check=check),
        functools.partial(_streaming_out, check=check),
        request_deserializer,
    )


def rewrapped(
    handler: Handler,
    unary_out: Wrapping,
    streaming_out: Wrapping,
    request_deserializer: Deserializer | None = None,
) -> Handler:
    """The same handler, its behaviour wrapped by `unary_out` when it answers once and by
    `streaming_out` when it streams its answers (and another request deserializer if given)."""
    deserializer = request_deserializer or handler.request_deserializer
    serializer = handler.response_serializer
    if handler.unary_unary is not None:
        return grpc.unary_unary_rpc_method_handler(
            unary_out(handler.unary_unary), deserializer, serializer
        )
    if handler.unary_stream is not None:
        return grpc.unary_stream_rpc_method_handler(
            streaming_out(handler.unary_stream), deserializer, serializer
        )
    if handler.stream_unary is not None:
        return grpc.stream_unary_rpc_method_handler(
            unary_out(handler.stream_unary), deserializer, serializer
        )
    assert handler.stream_stream is not None
    return grpc.stream_stream_rpc_method_handler(
        streaming_out(handler.stream_stream), deserializer, serializer
    )


class GuardInterceptor(grpc.aio.ServerInterceptor):
    """Serves every call but health and reflection (the methods starting with one of
    `open_prefixes`) through the handler `guarding` gives."""

    def __init__(
        self, guarding: Guarding, open_prefixes: tuple[str, ...] = OPEN_METHOD_PREFIXES
    ) -> None:
        self._guarding = guarding
        self._open_prefixes = open_prefixes

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[Handler | None]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> Handler | None:
        handler = await continuation(handler_call_details)
        if handler is None or handler_call_details.method.startswith(self._open_prefixes):
            return handler
        return self._guarding(handler, handler_call_details)
