"""Undecodable request messages are INVALID_ARGUMENT on every pixpress RPC, with or without
auth: the request deserializer returns a marker instead of raising inside gRPC (UNKNOWN)."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any

import grpc
from google.protobuf import descriptor_pool
from google.protobuf.message import DecodeError

from pixpress_server.errors import InvalidInput
from pixpress_server.servicers.errors import Context
from pixpress_server.servicers.guard import Deserializer, guard

if TYPE_CHECKING:
    from pixpress_server.servicers.guard import Handler


class _Malformed:
    """What the request deserializer returns for bytes that are not the expected message."""


MALFORMED = _Malformed()


@functools.cache
def message_name(method: str) -> str:
    """`pixpress.v1.CompressRequest` for `/pixpress.v1.CompressService/Compress`."""
    service, _, name = method.removeprefix("/").partition("/")
    try:
        found = descriptor_pool.Default().FindMethodByName(f"{service}.{name}")
    except KeyError:
        return f"{service} request"
    return str(found.input_type.full_name)


def _tolerant(deserializer: Deserializer) -> Deserializer:
    def deserialize(raw: bytes) -> Any:
        try:
            return deserializer(raw)
        except DecodeError:
            return MALFORMED

    return deserialize


async def _checked(requests: AsyncIterable[Any], error: InvalidInput) -> AsyncIterator[Any]:
    async for request in requests:
        if request is MALFORMED:
            raise error
        yield request


def _check(handler: Handler, error: InvalidInput) -> Callable[[Any, Context], Awaitable[Any]]:
    async def check(request: Any, context: Context) -> Any:
        if handler.request_streaming:
            # Raised from the iterator inside the servicer, which ends its action with it.
            return _checked(request, error)
        if request is MALFORMED:
            raise error
        return request

    return check


def decoding_checked(handler: Handler, details: grpc.HandlerCallDetails) -> Handler:
    """The handler with undecodable request messages refused as INVALID_ARGUMENT."""
    if handler.request_deserializer is None:
        return handler
    error = InvalidInput(f"malformed request message: not a valid {message_name(details.method)}")
    return guard(handler, _check(handler, error), _tolerant(handler.request_deserializer))
