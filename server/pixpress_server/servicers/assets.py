"""The AssetService RPCs: upload (streamed in), get, download (streamed out), delete."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pixpress.v1 import assets_pb2, assets_pb2_grpc

from pixpress_server.caller import current_owner
from pixpress_server.calls.assets import chunks_of
from pixpress_server.errors import InvalidInput
from pixpress_server.servicers.compress import RESPONSE_CHUNK_BYTES
from pixpress_server.servicers.convert import asset_to_wire
from pixpress_server.servicers.errors import streaming_errors, unary_errors

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator

    import grpc

    from pixpress_server.calls.assets import AssetCalls
    from pixpress_server.servicers.idle import IdleStreams

    Context = grpc.aio.ServicerContext[Any, Any]


class AssetServicer(assets_pb2_grpc.AssetServiceServicer):
    def __init__(self, assets: AssetCalls, streams: IdleStreams) -> None:
        self._assets = assets
        self._streams = streams

    @unary_errors
    async def UploadAsset(
        self, request_iterator: AsyncIterable[assets_pb2.UploadAssetRequest], context: Context
    ) -> assets_pb2.Asset:
        chunks = _chunks(self._streams.requests(request_iterator))
        return asset_to_wire(await self._assets.upload(current_owner(), chunks, context.cancelled))

    @unary_errors
    async def GetAsset(
        self, request: assets_pb2.GetAssetRequest, context: Context
    ) -> assets_pb2.Asset:
        return asset_to_wire(await self._assets.find(current_owner(), request.id))

    @streaming_errors
    async def DownloadAsset(
        self, request: assets_pb2.DownloadAssetRequest, context: Context
    ) -> AsyncIterator[assets_pb2.DownloadAssetResponse]:
        async for response in self._streams.responses(self._download(request)):
            yield response

    async def _download(
        self, request: assets_pb2.DownloadAssetRequest
    ) -> AsyncGenerator[assets_pb2.DownloadAssetResponse, None]:
        asset = await self._assets.find(current_owner(), request.id)
        with await self._assets.open(asset) as file:
            yield assets_pb2.DownloadAssetResponse(asset=asset_to_wire(asset))
            async for chunk in chunks_of(file, RESPONSE_CHUNK_BYTES):
                yield assets_pb2.DownloadAssetResponse(chunk=chunk)

    @unary_errors
    async def DeleteAsset(
        self, request: assets_pb2.DeleteAssetRequest, context: Context
    ) -> assets_pb2.DeleteAssetResponse:
        await self._assets.delete(current_owner(), request.id)
        return assets_pb2.DeleteAssetResponse()


async def _chunks(
    requests: AsyncIterable[assets_pb2.UploadAssetRequest],
) -> AsyncIterator[bytes]:
    """The upload's bytes; INVALID_ARGUMENT unless exactly the last message has finish_write."""
    finished = False
    async for request in requests:
        if finished:
            raise InvalidInput("no messages may follow the one with finish_write")
        yield request.chunk
        finished = request.finish_write
    if not finished:
        raise InvalidInput("upload incomplete: the last message must set finish_write")
