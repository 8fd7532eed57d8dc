"""The AssetService RPCs: upload (streamed in), get, download (streamed out), delete."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pixpress.v1 import assets_pb2, assets_pb2_grpc

from pixpress_server.caller import current_owner
from pixpress_server.errors import InvalidInput, NotFound
from pixpress_server.ids import checked_id
from pixpress_server.processing.formats import SNIFF_BYTES
from pixpress_server.servicers.compress import RESPONSE_CHUNK_BYTES
from pixpress_server.servicers.convert import asset_to_wire
from pixpress_server.servicers.errors import streaming_errors, unary_errors
from pixpress_server.servicers.receive import receive_image
from pixpress_server.spool import read_chunks
from pixpress_server.store.records import AssetOrigin

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator

    import grpc

    from pixpress_server.admission import RequestQueue
    from pixpress_server.blobs import BlobStore
    from pixpress_server.content import Contents
    from pixpress_server.routes import Route
    from pixpress_server.servicers.idle import IdleStreams
    from pixpress_server.spool import Spool
    from pixpress_server.store.base import AssetStore
    from pixpress_server.store.records import AssetRecord

    Context = grpc.aio.ServicerContext[Any, Any]


class AssetServicer(assets_pb2_grpc.AssetServiceServicer):
    def __init__(
        self,
        store: AssetStore,
        blobs: BlobStore,
        spool: Spool,
        queue: RequestQueue,
        max_input_bytes: int,
        contents: Contents,
        route: Route,
        streams: IdleStreams,
    ) -> None:
        self._streams = streams
        self._store = store
        self._blobs = blobs
        self._contents = contents
        self._route = route
        self._spool = spool
        self._queue = queue
        self._max_input_bytes = max_input_bytes

    @unary_errors
    async def UploadAsset(
        self, request_iterator: AsyncIterable[assets_pb2.UploadAssetRequest], context: Context
    ) -> assets_pb2.Asset:
        owner = current_owner()
        self._route.check_use(owner)  # assets exist to be inputs of the route
        with self._queue.slot(owner), self._spool.request_files(SNIFF_BYTES, hashed=True) as files:
            requests = self._streams.requests(request_iterator)
            chunks = self._within_quota(_chunks(requests), owner)
            image_format = await receive_image(
                chunks, files.input, self._max_input_bytes, context.cancelled
            )
            # The bytes are durable in the blob store before the row names them.
            asset = await self._contents.add(
                owner,
                files.input.path,
                files.input.sha256,
                files.input.size,
                str(image_format),
                AssetOrigin.UPLOAD,
            )
        return asset_to_wire(asset)

    @unary_errors
    async def GetAsset(
        self, request: assets_pb2.GetAssetRequest, context: Context
    ) -> assets_pb2.Asset:
        return asset_to_wire(await self._find(request.id))

    @streaming_errors
    async def DownloadAsset(
        self, request: assets_pb2.DownloadAssetRequest, context: Context
    ) -> AsyncIterator[assets_pb2.DownloadAssetResponse]:
        async for response in self._streams.responses(self._download(request)):
            yield response

    async def _download(
        self, request: assets_pb2.DownloadAssetRequest
    ) -> AsyncGenerator[assets_pb2.DownloadAssetResponse, None]:
        asset = await self._find(request.id)
        yield assets_pb2.DownloadAssetResponse(asset=asset_to_wire(asset))
        try:
            for chunk in read_chunks(self._blobs.path_for(asset.sha256), RESPONSE_CHUNK_BYTES):
                yield assets_pb2.DownloadAssetResponse(chunk=chunk)
        except FileNotFoundError:  # deleted since found; once open, the file stays readable
            raise NotFound(f"no asset {request.id}") from None

    @unary_errors
    async def DeleteAsset(
        self, request: assets_pb2.DeleteAssetRequest, context: Context
    ) -> assets_pb2.DeleteAssetResponse:
        deleted = await self._contents.delete(current_owner(), checked_id(request.id, "asset"))
        if deleted is None:
            raise NotFound(f"no asset {request.id}")
        return assets_pb2.DeleteAssetResponse()

    async def _within_quota(self, chunks: AsyncIterator[bytes], owner: str) -> AsyncIterator[bytes]:
        """The chunks, cut off (before being written) once they pass the storage quota."""
        allowance = await self._contents.allowance(owner)
        received = 0
        async for chunk in chunks:
            received += len(chunk)
            if allowance is not None and received > allowance:
                raise self._contents.quota_exceeded(await self._store.stored_bytes(owner), received)
            yield chunk

    async def _find(self, asset_id: str) -> AssetRecord:
        asset = await self._store.get_asset(current_owner(), checked_id(asset_id, "asset"))
        if asset is None:
            raise NotFound(f"no asset {asset_id}")
        return asset


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
