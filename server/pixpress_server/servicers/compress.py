"""The Compress RPCs: the streaming call, and SubmitCompress that runs in the background."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator
from typing import TYPE_CHECKING

import grpc
from pixpress.v1 import actions_pb2, compress_pb2, compress_pb2_grpc

from pixpress_server.caller import current_owner
from pixpress_server.calls.receive import receive_image
from pixpress_server.compression import Job, log_done
from pixpress_server.errors import InvalidInput, NotFound, PixpressServerError, StatusName
from pixpress_server.ids import checked_id
from pixpress_server.processing.formats import SNIFF_BYTES
from pixpress_server.servicers.convert import action_to_wire, options_from_wire, result_to_wire
from pixpress_server.servicers.errors import streaming_errors, unary_errors
from pixpress_server.spool import read_chunks
from pixpress_server.store.records import ActionRequestData

if TYPE_CHECKING:
    from pixpress_server.actions import ActionTracker, CancelReason
    from pixpress_server.admission import RequestQueue
    from pixpress_server.blobs import BlobStore
    from pixpress_server.compression import Compressor
    from pixpress_server.processing.model import CompressOptions
    from pixpress_server.routes import Route
    from pixpress_server.servicers.idle import IdleStreams
    from pixpress_server.spool import RequestFiles, Spool
    from pixpress_server.store.base import AssetStore
    from pixpress_server.store.records import AssetRecord

logger = logging.getLogger(__name__)

RESPONSE_CHUNK_BYTES = 1024 * 1024  # well under gRPC's 4 MiB message limit
# Trailing metadata of a failed Compress once its action exists: the SDK's error.action_id.
ACTION_ID_KEY = "pixpress-action-id"
CANCELLED_MESSAGE = "the call was cancelled (by the client, or by gRPC for a message over 4 MiB)"
NO_INPUT_MESSAGE = (
    "no input image: pass input_asset={'assetId': ID, 'assetType': 'file'} "
    "(upload one first with client.assets.upload)"
)

Context = grpc.aio.ServicerContext[compress_pb2.CompressRequest, compress_pb2.CompressResponse]


class CompressServicer(compress_pb2_grpc.CompressServiceServicer):
    def __init__(
        self,
        compressor: Compressor,
        tracker: ActionTracker,
        queue: RequestQueue,
        spool: Spool,
        assets: AssetStore,
        blobs: BlobStore,
        max_input_bytes: int,
        route: Route,
        streams: IdleStreams,
    ) -> None:
        self._route = route
        self._streams = streams
        self._compressor = compressor
        self._tracker = tracker
        self._queue = queue
        self._spool = spool
        self._assets = assets
        self._blobs = blobs
        self._max_input_bytes = max_input_bytes
        self._background: set[asyncio.Task[None]] = set()
        self._stopping = False

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
        started = time.perf_counter()
        owner = current_owner()
        with self._queue.slot(owner), self._spool.request_files(SNIFF_BYTES) as files:
            self._check_route_access(owner)
            message = await _first_options(requests)
            options = options_from_wire(message)
            asset = await self._input_asset(owner, message.input_asset_id)
            action = await self._tracker.create(owner, _request_data(message, options))
            context.set_trailing_metadata(((ACTION_ID_KEY, action.id),))
            async with self._tracker.recording(action.id, lambda: _why_call_ended(context)) as run:
                yield compress_pb2.CompressResponse(action_id=action.id)
                task = asyncio.current_task()
                assert task is not None
                with self._tracker.running(action.id, task):
                    job = await self._job(
                        action.id, owner, requests, files, options, asset, message, context
                    )
                    done = await self._compressor.run(job, run)
                log_done(action.id, owner, done, started)
                yield compress_pb2.CompressResponse(result=result_to_wire(done, action.id))
                for chunk in read_chunks(done.output, RESPONSE_CHUNK_BYTES):
                    yield compress_pb2.CompressResponse(chunk=chunk)

    @unary_errors
    async def SubmitCompress(
        self,
        request: compress_pb2.SubmitCompressRequest,
        context: grpc.aio.ServicerContext[compress_pb2.SubmitCompressRequest, actions_pb2.Action],
    ) -> actions_pb2.Action:
        owner = current_owner()
        self._check_route_access(owner)
        options = options_from_wire(request.options)
        data = _request_data(request.options, options, store_output=True)
        if not request.options.input_asset_id:
            # Recorded all the same: every use of the route has its action.
            action = await self._tracker.create(owner, data)
            await self._tracker.fail(action.id, StatusName.INVALID_ARGUMENT, NO_INPUT_MESSAGE)
            return action_to_wire(await self._tracker.get(owner, action.id))
        asset = await self._input_asset(owner, request.options.input_asset_id)
        assert asset is not None
        # Refuse now, not in the background, when the server is already full.
        slot = contextlib.ExitStack()
        slot.enter_context(self._queue.slot(owner))
        action = await self._tracker.create(owner, data)
        task = asyncio.get_running_loop().create_task(
            self._run_in_background(action.id, owner, asset, options, slot)
        )
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return action_to_wire(action)

    async def drain(self, grace: float) -> None:
        """On shutdown: let background work finish for `grace` seconds, then cancel it."""
        self._stopping = True
        if not self._background:
            return
        _, pending = await asyncio.wait(list(self._background), timeout=grace)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    async def _run_in_background(
        self,
        action_id: str,
        owner: str,
        asset: AssetRecord,
        options: CompressOptions,
        slot: contextlib.ExitStack,
    ) -> None:
        started = time.perf_counter()
        task = asyncio.current_task()
        assert task is not None
        try:
            with (
                slot,
                self._spool.request_files(SNIFF_BYTES) as files,
                self._tracker.running(action_id, task),
            ):
                async with self._tracker.recording(action_id, self._why_background_ended) as run:
                    job = self._asset_job(
                        action_id, owner, files, options, asset, store_output=True
                    )
                    done = await self._compressor.run(job, run)
        except PixpressServerError as error:
            logger.info("action %s failed: %s", action_id, error.public_message)
            return
        except asyncio.CancelledError:
            logger.info("action %s cancelled", action_id)
            return
        log_done(action_id, owner, done, started)

    def _why_background_ended(self) -> CancelReason:
        if self._stopping:
            return StatusName.UNAVAILABLE, "the server shut down before the action finished"
        return StatusName.CANCELLED, "cancelled by the owner"

    def _check_route_access(self, owner: str) -> None:
        self._route.check_use(owner)

    async def _input_asset(self, owner: str, asset_id: str) -> AssetRecord | None:
        if not asset_id:
            return None
        asset = await self._assets.get_asset(owner, checked_id(asset_id, "asset"))
        if asset is None:
            raise NotFound(f"no asset {asset_id}")
        return asset

    async def _job(
        self,
        action_id: str,
        owner: str,
        requests: AsyncIterator[compress_pb2.CompressRequest],
        files: RequestFiles,
        options: CompressOptions,
        asset: AssetRecord | None,
        message: compress_pb2.CompressOptions,
        context: Context,
    ) -> Job:
        if asset is not None:
            async for _ in requests:
                raise InvalidInput("send no chunks when options.input_asset_id names the input")
            return self._asset_job(
                action_id, owner, files, options, asset, store_output=message.store_output
            )
        image_format = await receive_image(
            _chunks(requests), files.input, self._max_input_bytes, context.cancelled
        )
        return Job(
            action_id=action_id,
            owner=owner,
            source=files.input.path,
            source_size=files.input.size,
            source_format=str(image_format),
            target=files.output,
            options=options,
            store_output=message.store_output,
        )

    def _asset_job(
        self,
        action_id: str,
        owner: str,
        files: RequestFiles,
        options: CompressOptions,
        asset: AssetRecord,
        store_output: bool,
    ) -> Job:
        return Job(
            action_id=action_id,
            owner=owner,
            source=self._blobs.path_for(asset.sha256),
            source_size=asset.size,
            source_format=asset.format,
            target=files.output,
            options=options,
            store_output=store_output,
        )


def _why_call_ended(context: Context) -> CancelReason:
    remaining = context.time_remaining()
    if remaining is not None and remaining <= 0:
        return StatusName.DEADLINE_EXCEEDED, "the call's deadline passed"
    # gRPC itself ends a call with a message over 4 MiB (telling the client
    # RESOURCE_EXHAUSTED), and the handler sees that exactly as a client's cancel.
    return StatusName.CANCELLED, CANCELLED_MESSAGE


def _request_data(
    message: compress_pb2.CompressOptions, options: CompressOptions, store_output: bool = False
) -> ActionRequestData:
    return ActionRequestData(
        quality=0 if options.target_score is not None else options.quality,
        keep_metadata=options.keep_metadata,
        input_asset_id=message.input_asset_id,
        store_output=store_output or message.store_output,
        effort=options.effort,
        target_score=options.target_score,
        max_bytes=options.max_bytes,
    )


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
