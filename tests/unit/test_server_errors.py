"""Typed server errors: the retry hint survives pickling and is sent as trailing metadata,
next to (never instead of) trailing metadata the servicer set before failing."""

from __future__ import annotations

import asyncio
import pickle
from typing import Any

import grpc
import pytest
from pixpress_server.errors import InvalidInput, PixpressServerError, Throttled
from pixpress_server.servicers.errors import RETRY_AFTER_KEY, unary_errors


def test_retry_after_survives_pickling() -> None:
    error = pickle.loads(pickle.dumps(Throttled("slow down", "detail", retry_after=1.25)))
    assert isinstance(error, Throttled)
    assert (error.public_message, error.detail, error.retry_after) == ("slow down", "detail", 1.25)
    assert pickle.loads(pickle.dumps(InvalidInput("bad"))).retry_after is None


class _Servicer:
    def __init__(self, error: PixpressServerError) -> None:
        self.error = error

    @unary_errors
    async def call(self, request: bytes, context: grpc.aio.ServicerContext[Any, Any]) -> bytes:
        context.set_trailing_metadata((("pixpress-action-id", "act_123"),))
        raise self.error


async def _call(error: PixpressServerError) -> grpc.aio.AioRpcError:
    servicer = _Servicer(error)
    handler = grpc.method_handlers_generic_handler(
        "test.T", {"M": grpc.unary_unary_rpc_method_handler(servicer.call)}
    )
    server = grpc.aio.server()
    server.add_generic_rpc_handlers((handler,))
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            with pytest.raises(grpc.aio.AioRpcError) as raised:
                await channel.unary_unary("/test.T/M")(b"")
            return raised.value
    finally:
        await server.stop(0)


@pytest.mark.parametrize(
    ("retry_after", "expected"), [(1.5, "1.500"), (0.0001, "0.001"), (2.0004, "2.001")]
)
def test_retry_hint_is_sent_with_the_metadata_already_set(
    retry_after: float, expected: str
) -> None:
    error = asyncio.run(_call(Throttled("slow down", retry_after=retry_after)))
    assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert error.details() == "slow down"
    trailing = dict(error.trailing_metadata() or ())
    assert trailing == {"pixpress-action-id": "act_123", RETRY_AFTER_KEY: expected}


def test_no_retry_hint_keeps_the_metadata_already_set() -> None:
    error = asyncio.run(_call(InvalidInput("bad options")))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert dict(error.trailing_metadata() or ()) == {"pixpress-action-id": "act_123"}
