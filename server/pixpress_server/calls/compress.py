"""Compress calls: the streamed compression (bytes in, bytes out, one action) and the
background one (a stored asset in, a stored asset out) that SubmitCompress and route.use make.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pixpress_server.calls.options import compress_options
from pixpress_server.calls.receive import receive_image
from pixpress_server.compression import Job, log_done
from pixpress_server.errors import (
    InvalidInput,
    NotFound,
    PixpressServerError,
    StatusName,
    Throttled,
)
from pixpress_server.ids import checked_id
from pixpress_server.processing.formats import SNIFF_BYTES
from pixpress_server.store.records import ActionRequestData, AssetRecord

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, AsyncIterator, Callable

    from pixpress_server.actions import ActionTracker, CancelReason
    from pixpress_server.admission import RequestQueue
    from pixpress_server.claims import ClaimLoop
    from pixpress_server.compression import Compressor, Done
    from pixpress_server.processing.model import CompressOptions
    from pixpress_server.routes import Route
    from pixpress_server.spool import RequestFiles, Spool
    from pixpress_server.store.base import AssetStore
    from pixpress_server.store.records import ActionRecord, Claim

logger = logging.getLogger(__name__)

NO_INPUT_MESSAGE = (
    "no input image: pass input_asset={'assetId': ID, 'assetType': 'file'} "
    "(upload one first with client.assets.upload)"
)
# Over the pending bound, a place frees when one of the owner's actions ends: typically well
# within a few seconds while the owner's work is being done.
PENDING_RETRY_AFTER = 5.0


@dataclass(frozen=True, slots=True)
class CompressRequest:
    """What to compress and how: validated options, and an input asset or streamed bytes."""

    options: CompressOptions
    input_asset_id: str = ""
    store_output: bool = False

    def action_data(self, store_output: bool = False) -> ActionRequestData:
        options = self.options
        return ActionRequestData(
            quality=0 if options.target_score is not None else options.quality,
            keep_metadata=options.keep_metadata,
            input_asset_id=self.input_asset_id,
            store_output=store_output or self.store_output,
            effort=options.effort,
            target_score=options.target_score,
            max_bytes=options.max_bytes,
        )

    @classmethod
    def of_action(cls, data: ActionRequestData) -> CompressRequest:
        """The request `action_data` recorded, to run it (a claimed background action)."""
        options = compress_options(
            quality=None if data.target_score is not None else data.quality,
            keep_metadata=data.keep_metadata,
            effort=data.effort,
            target_score=data.target_score,
            max_bytes=data.max_bytes,
        )
        return cls(options, data.input_asset_id, data.store_output)


@dataclass(frozen=True, slots=True)
class Started:
    """The action exists: its id can be told to the client before any work."""

    action_id: str


@dataclass(frozen=True, slots=True)
class Finished:
    """The output is ready in `done.output` until the stream is advanced or closed."""

    action_id: str
    done: Done


class CompressCalls:
    def __init__(
        self,
        compressor: Compressor,
        tracker: ActionTracker,
        queue: RequestQueue,
        spool: Spool,
        assets: AssetStore,
        max_input_bytes: int,
        route: Route,
        max_pending: int,
    ) -> None:
        self._compressor = compressor
        self._tracker = tracker
        self._queue = queue
        self._spool = spool
        self._assets = assets
        self._max_input_bytes = max_input_bytes
        self._route = route
        self._max_pending = max_pending
        self._claims: ClaimLoop | None = None
        self._stopping = False

    def serve_queue(self, claims: ClaimLoop) -> None:
        """`claims` runs the background actions: `submit` wakes it, `drain` stops it."""
        self._claims = claims

    async def stream(
        self,
        owner: str,
        request: CompressRequest,
        chunks: AsyncIterator[bytes],
        why_ended: Callable[[], CancelReason],
        cancelled: Callable[[], bool],
    ) -> AsyncGenerator[Started | Finished, None]:
        """Compress the streamed bytes (or the input asset, with no chunks): `Started`, then
        `Finished`. Advance past `Finished` once the output was sent: the action succeeds
        then; closing the stream instead records `why_ended()`. Close it with `aclosing`.
        """
        started = time.perf_counter()
        with self._queue.slot(owner), self._spool.request_files(SNIFF_BYTES) as files:
            self._route.check_use(owner)
            asset = await self._input_asset(owner, request.input_asset_id)
            action = await self._tracker.create(owner, request.action_data())
            async with self._tracker.recording(action.id, why_ended) as run:
                yield Started(action.id)
                task = asyncio.current_task()
                assert task is not None
                with self._tracker.running(action.id, task):
                    if asset is not None:
                        async for _ in chunks:
                            raise InvalidInput(
                                "send no chunks when options.input_asset_id names the input"
                            )
                        job = self._asset_job(action.id, owner, files, request, asset)
                    else:
                        job = await self._streamed_job(
                            action.id, owner, chunks, files, request, cancelled
                        )
                    done = await self._compressor.run(job, run)
                log_done(action.id, owner, done, started)
                yield Finished(action.id, done)

    async def submit(self, owner: str, request: CompressRequest) -> ActionRecord:
        """Queue the compression of an input asset, its output stored; the QUEUED action
        (FAILED at once, recorded all the same, when no input asset is named).

        Raises:
            Throttled: the owner already has `max_pending` background actions unfinished
                (counted in the store, so across replicas); nothing is recorded.
        """
        self._route.check_use(owner)
        data = request.action_data(store_output=True)
        if not request.input_asset_id:
            # Recorded all the same: every use of the route has its action.
            action = await self._tracker.create(owner, data)
            await self._tracker.fail(action.id, StatusName.INVALID_ARGUMENT, NO_INPUT_MESSAGE)
            return await self._tracker.get(owner, action.id)
        asset = await self._input_asset(owner, request.input_asset_id)
        assert asset is not None
        # Only the row: whichever replica has a free slot claims it (see claims.py). The
        # input's size and format go with it: its asset may be deleted before the work starts.
        data = dataclasses.replace(data, input_size=asset.size, input_format=asset.format)
        queued = await self._tracker.queue(owner, data, self._max_pending)
        if queued is None:
            raise Throttled(
                f"{owner!r} already has {self._max_pending} background actions queued or "
                "running, the limit per owner (--max-pending-per-owner); submit more when "
                "some finish",
                retry_after=PENDING_RETRY_AFTER,
            )
        if self._claims is not None:
            self._claims.nudge()
        return queued

    async def drain(self, grace: float) -> None:
        """On shutdown: let background work finish for `grace` seconds, then cancel it."""
        self._stopping = True
        if self._claims is not None:
            await self._claims.stop(grace)

    async def run_claimed(self, claim: Claim) -> None:
        """Do a background action this replica claimed; it ends recorded, whatever happens."""
        started = time.perf_counter()
        action = claim.action
        data = action.request
        task = asyncio.current_task()
        assert task is not None
        try:
            with (
                self._spool.request_files(SNIFF_BYTES) as files,
                self._tracker.running(action.id, task),
            ):
                async with self._tracker.recording(action.id, self._why_background_ended) as run:
                    request = CompressRequest.of_action(data)  # store_output, as `submit` made it
                    if not claim.input_sha256:  # deleted before the action's row was written
                        raise NotFound("the input asset was deleted before the action started")
                    asset = AssetRecord(
                        id=data.input_asset_id,
                        owner=action.owner,
                        size=data.input_size,
                        format=data.input_format,
                        sha256=claim.input_sha256,
                        created=action.created,
                    )
                    job = self._asset_job(action.id, action.owner, files, request, asset)
                    done = await self._compressor.run(job, run)
        except PixpressServerError as error:
            logger.info("action %s failed: %s", action.id, error.public_message)
            return
        log_done(action.id, action.owner, done, started)

    def _why_background_ended(self) -> CancelReason | None:
        if self._stopping:
            return None  # back to the queue: another replica, or this one restarted, runs it
        return StatusName.CANCELLED, "cancelled by the owner"

    async def _input_asset(self, owner: str, asset_id: str) -> AssetRecord | None:
        if not asset_id:
            return None
        asset = await self._assets.get_asset(owner, checked_id(asset_id, "asset"))
        if asset is None:
            raise NotFound(f"no asset {asset_id}")
        return asset

    async def _streamed_job(
        self,
        action_id: str,
        owner: str,
        chunks: AsyncIterator[bytes],
        files: RequestFiles,
        request: CompressRequest,
        cancelled: Callable[[], bool],
    ) -> Job:
        image_format = await receive_image(chunks, files.input, self._max_input_bytes, cancelled)
        return Job(
            action_id=action_id,
            owner=owner,
            source=files.input.path,
            source_size=files.input.size,
            source_format=str(image_format),
            target=files.output,
            options=request.options,
            store_output=request.store_output,
        )

    def _asset_job(
        self,
        action_id: str,
        owner: str,
        files: RequestFiles,
        request: CompressRequest,
        asset: AssetRecord,
    ) -> Job:
        return Job(
            action_id=action_id,
            owner=owner,
            source=files.input.path,  # the blob's bytes may be fetched here
            source_size=asset.size,
            source_format=asset.format,
            target=files.output,
            options=request.options,
            store_output=request.store_output,
            source_blob=asset.sha256,
        )
