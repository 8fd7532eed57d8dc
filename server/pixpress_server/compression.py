"""One compression as an action: probe, admit, compress, optionally store the output.

Shared by the streaming Compress RPC and the background SubmitCompress work, so both
record the same statuses, responses and errors.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from pixpress_server.blobs import link_or_copy
from pixpress_server.errors import NotFound
from pixpress_server.processing.headers import HEAD_BYTES, read_header
from pixpress_server.processing.limits import check_limits
from pixpress_server.processing.memory import estimate_memory
from pixpress_server.processing.model import ImageFormat
from pixpress_server.store.records import ActionResponseData, AssetOrigin, AssetRecord
from pixpress_server.workers.jobs import CompressJob, ProbeJob

if TYPE_CHECKING:
    from pathlib import Path

    from pixpress_server.actions import ActionRun, ActionTracker
    from pixpress_server.admission import MemoryBudget
    from pixpress_server.blobs import Blobs
    from pixpress_server.content import Contents
    from pixpress_server.processing.model import (
        CompressOptions,
        CompressOutcome,
        ImageHeader,
        Limits,
    )
    from pixpress_server.workers.pool import WorkerPool

logger = logging.getLogger(__name__)

_HASH_CHUNK = 1024 * 1024


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb", buffering=0) as file:
        while chunk := file.read(_HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True, slots=True)
class Job:
    """One compression to run: where the input is, where the output may go, what to do.

    With `source_blob` (a stored asset's sha256) `source` is a spool path the blob's bytes
    may be fetched into, when the blob storage is not a local directory.
    """

    action_id: str
    owner: str
    source: Path
    source_size: int
    source_format: str
    target: Path  # a spool path the worker may write
    options: CompressOptions
    store_output: bool
    source_blob: str = ""


@dataclass(frozen=True, slots=True)
class Done:
    outcome: CompressOutcome
    output: Path  # the file holding the output bytes (the request's own: never a blob)
    output_asset_id: str


class Compressor:
    def __init__(
        self,
        limits: Limits,
        pool: WorkerPool,
        budget: MemoryBudget,
        blobs: Blobs,
        contents: Contents,
        tracker: ActionTracker,
    ) -> None:
        self._limits = limits
        self._pool = pool
        self._budget = budget
        self._blobs = blobs
        self._contents = contents
        self._tracker = tracker
        self._listeners: list[Callable[[CompressOutcome], None]] = []

    def on_done(self, listener: Callable[[CompressOutcome], None]) -> None:
        """Call `listener` with the outcome of every compression that succeeds."""
        self._listeners.append(listener)

    async def run(self, job: Job, action: ActionRun) -> Done:
        """Do the work, noting on `action` what was received and the outcome.

        The caller's `ActionTracker.recording` block records the action when it ends, after
        the output was streamed back; a stored output is safe already, so its success is
        recorded now.
        """
        # Recorded with the outcome, so an input that fails before a worker takes it up
        # still shows its size and format.
        action.received = (job.source_size, job.source_format)
        done = await self._run(job)
        for listener in self._listeners:
            listener(done.outcome)
        action.response = _response(done)
        if job.store_output and not await self._tracker.settle(action):
            # Cancelled meanwhile, or our lease expired and another replica re-ran it: that
            # run's output is the action's, this one would be a second.
            logger.warning("action %s ended elsewhere: its output here is dropped", job.action_id)
            await self._contents.delete(job.owner, done.output_asset_id)
        return done

    async def _run(self, job: Job) -> Done:
        if not job.source_blob:
            return await self._compress(job, borrowed=False)
        try:
            try:
                source = await asyncio.to_thread(self._blobs.fetch, job.source_blob, job.source)
            except FileNotFoundError:
                raise _input_deleted() from None
            # The blob's own file when the storage is a directory, else the spool copy.
            return await self._compress(replace(job, source=source), source != job.source)
        finally:
            # The action pinned its input asset's bytes while unfinished (see content.py);
            # if the asset was deleted meanwhile they go now.
            await self._contents.release(job.source_blob, ignoring_action=job.action_id)

    async def _compress(self, job: Job, borrowed: bool) -> Done:
        header = await self._header(job)
        async with self._budget.reserve(estimate_memory(header, job.source_size, job.options)):
            outcome = await self._pool.compress(
                CompressJob(job.source, job.target, job.options, self._limits),
                on_start=lambda: self._tracker.start(
                    job.action_id, job.source_size, job.source_format
                ),
            )
        output = job.source if outcome.kept_original else job.target
        if outcome.kept_original and borrowed:
            # Streamed back after the action ends, when the blob may be gone: our own name.
            await asyncio.to_thread(link_or_copy, job.source, job.target)
            output = job.target
        if not job.store_output:
            return Done(outcome, output, "")
        asset = await self._store_output(job, output, outcome)
        return Done(outcome, output, asset.id)

    async def _header(self, job: Job) -> ImageHeader:
        """From the first bytes when pure Python can read them, else a worker's libvips probe."""
        try:
            with job.source.open("rb") as file:
                head = file.read(HEAD_BYTES)
        except FileNotFoundError:
            raise _input_deleted() from None
        header = read_header(head, ImageFormat(job.source_format))
        if header is None:
            return await self._pool.probe(ProbeJob(job.source, self._limits))
        check_limits(header, self._limits)
        return header

    async def _store_output(self, job: Job, output: Path, outcome: CompressOutcome) -> AssetRecord:
        """Keep the output as an asset (RESOURCE_EXHAUSTED above the owner's storage quota)."""
        sha256 = await asyncio.to_thread(sha256_of, output)
        return await self._contents.add(
            job.owner,
            output,
            sha256,
            outcome.output_size,
            str(outcome.header.format),
            AssetOrigin.OUTPUT,
        )


def _input_deleted() -> NotFound:
    # Only when the asset was deleted between being looked up and the action's row being
    # written (which pins it): the client's doing, not a server fault.
    return NotFound("the input asset was deleted before the action started")


def _response(done: Done) -> ActionResponseData:
    outcome = done.outcome
    return ActionResponseData(
        format=str(outcome.header.format),
        output_size=outcome.output_size,
        width=outcome.header.width,
        height=outcome.header.height,
        frames=outcome.header.frames,
        kept_original=outcome.kept_original,
        kept_original_reason=outcome.kept_original_reason,
        output_asset_id=done.output_asset_id,
        stages=outcome.stages,
        quality=outcome.quality,
        effort=outcome.effort,
        score=outcome.score,
        budget_met=outcome.budget_met,
    )


def log_done(action_id: str, owner: str, done: Done, started: float) -> None:
    outcome = done.outcome
    stages = " ".join(f"{s.name}_ms={s.milliseconds:.1f}" for s in outcome.stages)
    searched = "" if outcome.score is None else f" score={outcome.score:.2f}"
    if outcome.budget_met is not None:
        searched += f" budget_met={outcome.budget_met}"
    logger.info(
        "compress action=%s owner=%s format=%s quality=%d effort=%d%s bytes_in=%d "
        "bytes_out=%d kept_original=%s %s total_ms=%.1f",
        action_id,
        owner,
        outcome.header.format,
        outcome.quality,
        outcome.effort,
        searched,
        outcome.input_size,
        outcome.output_size,
        outcome.kept_original,
        stages,
        (time.perf_counter() - started) * 1000,
    )
