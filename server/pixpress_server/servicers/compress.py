"""The Compress RPCs: the streaming call, and SubmitCompress that runs in the background."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator
from typing import TYPE_CHECKING

import grpc
from pixpress.v1 import actions_pb2, compress_pb2, compress_pb2_grpc

from pixpress_server.caller import current_owner
from pixpress_server.calls.compress import CompressRequest, Started
from pixpress_server.errors import InvalidInput, PixpressServerError, StatusName
from pixpress_server.servicers.convert import action_to_wire, options_from_wire, result_to_wire
from pixpress_server.servicers.errors import streaming_errors, unary_errors
from pixpress_server.spool import read_chunks

if TYPE_CHECKING:
    from pixpress_server.actions import CancelReason
    from pixpress_server.calls.compress import CompressCalls
    from pixpress_server.servicers.idle import IdleStreams

RESPONSE_CHUNK_BYTES = 1024 * 1024  # well under gRPC's 4 MiB message limit
# Trailing metadata of a failed Compress once its action exists: the SDK's error.action_id.
ACTION_ID_KEY = "pixpress-action-id"
CANCELLED_MESSAGE = "the call was cancelled (by the client, or by gRPC for a message over 4 MiB)"

Context = grpc.aio.ServicerContext[compress_pb2.CompressRequest, compress_pb2.CompressResponse]


class CompressServicer(compress_pb2_grpc.CompressServiceServicer):
    def __init__(self, calls: CompressCalls, streams: IdleStreams) -> None:
        self._calls = calls
        self._streams = streams

    @streaming_errors
    async def Compress(
        self,
        request_iterator: AsyncIterable[compress_pb2.CompressRequest],
        context: Context,
    ) -> AsyncIterator[compress_pb2.CompressResponse]:
        requests = self._streams.requests(request_iterator)
        async for response in self._streams.responses(self._compress(requests, context)):
            yield response

    async def _compress(
        self, requests: AsyncIterator[compress_pb2.CompressRequest], context: Context
    ) -> AsyncGenerator[compress_pb2.CompressResponse, None]:
        owner = current_owner()
        message = await _first_options(requests)
        request = _compress_request(message)
        events = self._calls.stream(
            owner, request, _chunks(requests), lambda: _why_call_ended(context), context.cancelled
        )
        async with contextlib.aclosing(events):
            async for event in events:
                try:
                    if isinstance(event, Started):
                        context.set_trailing_metadata(((ACTION_ID_KEY, event.action_id),))
                        yield compress_pb2.CompressResponse(action_id=event.action_id)
                        continue
                    yield compress_pb2.CompressResponse(
                        result=result_to_wire(event.done, event.action_id)
                    )
                    for chunk in read_chunks(event.done.output, RESPONSE_CHUNK_BYTES):
                        yield compress_pb2.CompressResponse(chunk=chunk)
                except PixpressServerError as error:
                    # Thrown in at a yield (an idle client's DEADLINE_EXCEEDED): the action
                    # records it, where closing the stream would record a cancel.
                    await events.athrow(error)
                    raise

    @unary_errors
    async def SubmitCompress(
        self,
        request: compress_pb2.SubmitCompressRequest,
        context: grpc.aio.ServicerContext[compress_pb2.SubmitCompressRequest, actions_pb2.Action],
    ) -> actions_pb2.Action:
        action = await self._calls.submit(current_owner(), _compress_request(request.options))
        return action_to_wire(action)


def _compress_request(message: compress_pb2.CompressOptions) -> CompressRequest:
    return CompressRequest(
        options_from_wire(message),
        input_asset_id=message.input_asset_id,
        store_output=message.store_output,
    )


def _why_call_ended(context: Context) -> CancelReason:
    remaining = context.time_remaining()
    if remaining is not None and remaining <= 0:
        return StatusName.DEADLINE_EXCEEDED, "the call's deadline passed"
    # gRPC itself ends a call with a message over 4 MiB (telling the client
    # RESOURCE_EXHAUSTED), and the handler sees that exactly as a client's cancel.
    return StatusName.CANCELLED, CANCELLED_MESSAGE


async def _first_options(
    requests: AsyncIterator[compress_pb2.CompressRequest],
) -> compress_pb2.CompressOptions:
    first = await anext(requests, None)
    if first is None:
        raise InvalidInput("empty request stream: the first message must carry options")
    if not first.HasField("options"):
        raise InvalidInput("the first message must carry options, not image bytes")
    return first.options


async def _chunks(requests: AsyncIterator[compress_pb2.CompressRequest]) -> AsyncIterator[bytes]:
    async for request in requests:
        if request.HasField("options"):
            raise InvalidInput("options must be sent once, in the first message only")
        yield request.chunk
