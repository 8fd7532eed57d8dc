"""The auth interceptor: every RPC but health and reflection needs a valid API key.

A valid key's owner is set in the request's context (`caller.current_owner()`); anything
else is answered UNAUTHENTICATED before the servicer runs.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any

import grpc

from pixpress_server.caller import set_owner
from pixpress_server.errors import PixpressServerError

if TYPE_CHECKING:
    from typing import TypeAlias

    from pixpress_server.auth.authenticator import Authenticator

    Handler: TypeAlias = grpc.RpcMethodHandler[Any, Any]

logger = logging.getLogger(__name__)

OPEN_METHOD_PREFIXES = ("/grpc.health.v1.Health/", "/grpc.reflection.")

Behaviour = Callable[..., Any]


def _unary_with_owner(behaviour: Behaviour, owner: str) -> Behaviour:
    async def call(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
        set_owner(owner)
        return await behaviour(request, context)

    return call


def _streaming_with_owner(behaviour: Behaviour, owner: str) -> Behaviour:
    async def call(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> AsyncIterator[Any]:
        set_owner(owner)
        async for response in behaviour(request, context):
            yield response

    return call


def _refusal(code: grpc.StatusCode, message: str, streaming: bool) -> Behaviour:
    async def refuse(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
        await context.abort(code, message)

    async def refuse_stream(
        request: Any, context: grpc.aio.ServicerContext[Any, Any]
    ) -> AsyncIterator[Any]:
        await context.abort(code, message)
        yield  # pragma: no cover - abort raises

    return refuse_stream if streaming else refuse


def _rebuild(handler: Handler, wrap: Callable[[Behaviour, bool], Behaviour]) -> Handler:
    """The same handler with its behaviour wrapped (the wrapper learns if it streams out)."""
    request_deserializer = handler.request_deserializer
    response_serializer = handler.response_serializer
    if handler.unary_unary is not None:
        return grpc.unary_unary_rpc_method_handler(
            wrap(handler.unary_unary, False), request_deserializer, response_serializer
        )
    if handler.unary_stream is not None:
        return grpc.unary_stream_rpc_method_handler(
            wrap(handler.unary_stream, True), request_deserializer, response_serializer
        )
    if handler.stream_unary is not None:
        return grpc.stream_unary_rpc_method_handler(
            wrap(handler.stream_unary, False), request_deserializer, response_serializer
        )
    assert handler.stream_stream is not None
    return grpc.stream_stream_rpc_method_handler(
        wrap(handler.stream_stream, True), request_deserializer, response_serializer
    )


class AuthInterceptor(grpc.aio.ServerInterceptor):
    def __init__(self, authenticator: Authenticator) -> None:
        self._authenticator = authenticator

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[Handler | None]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> Handler | None:
        handler = await continuation(handler_call_details)
        method = handler_call_details.method
        if handler is None or method.startswith(OPEN_METHOD_PREFIXES):
            return handler
        metadata = dict(handler_call_details.invocation_metadata or ())
        authorization = metadata.get("authorization")
        try:
            owner = await self._authenticator.owner_for(
                authorization if isinstance(authorization, str) else None
            )
        except PixpressServerError as error:
            logger.info("refused %s: %s", method, error.public_message)
            code, message = grpc.StatusCode[error.status], error.public_message
            return _rebuild(handler, lambda _, streaming: _refusal(code, message, streaming))
        return _rebuild(
            handler,
            lambda behaviour, streaming: (
                _streaming_with_owner if streaming else _unary_with_owner
            )(behaviour, owner),
        )
