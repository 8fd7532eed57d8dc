"""The Compress RPC: receive options then chunks, admit, run the worker job, stream the result."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import grpc
from pixpress.v1 import compress_pb2, compress_pb2_grpc

from pixpress_server.admission import MemoryBudget, RequestQueue
from pixpress_server.caller import current_owner
from pixpress_server.errors import InvalidInput, PixpressServerError, TooLarge
from pixpress_server.processing.formats import SNIFF_BYTES, sniff
from pixpress_server.processing.memory import estimate_memory
from pixpress_server.processing.model import CompressOptions, CompressOutcome, Limits
from pixpress_server.servicers.convert import options_from_wire, result_to_wire
from pixpress_server.spool import Spool, SpooledInput, read_chunks
from pixpress_server.workers.jobs import CompressJob, ProbeJob
from pixpress_server.workers.pool import WorkerPool

logger = logging.getLogger(__name__)

RESPONSE_CHUNK_BYTES = 1024 * 1024  # well under gRPC's 4 MiB message limit


@dataclass(frozen=True, slots=True)
class CompressLimits:
    max_input_bytes: int
    image: Limits


class CompressServicer(compress_pb2_grpc.CompressServiceServicer):
    def __init__(
        self,
        limits: CompressLimits,
        pool: WorkerPool,
        queue: RequestQueue,
        budget: MemoryBudget,
        spool: Spool,
    ) -> None:
        self._limits = limits
        self._pool = pool
        self._queue = queue
        self._budget = budget
        self._spool = spool

    async def Compress(
        self,
        request_iterator: AsyncIterable[compress_pb2.CompressRequest],
        context: grpc.aio.ServicerContext[
            compress_pb2.CompressRequest, compress_pb2.CompressResponse
        ],
    ) -> AsyncIterator[compress_pb2.CompressResponse]:
        started = time.perf_counter()
        try:
            with self._queue.slot(), self._spool.request_files(SNIFF_BYTES) as (source, target):
                requests = aiter(request_iterator)
                options = await _read_options(requests)
                await self._receive(requests, source)
                outcome = await self._process(source, target, options)
                _log_request(outcome, started)
                yield compress_pb2.CompressResponse(result=result_to_wire(outcome))
                output = source.path if outcome.kept_original else target
                for chunk in read_chunks(output, RESPONSE_CHUNK_BYTES):
                    yield compress_pb2.CompressResponse(chunk=chunk)
        except PixpressServerError as error:
            logger.info(
                "compress failed owner=%s status=%s message=%r detail=%r ms=%.1f",
                current_owner(),
                error.status,
                error.public_message,
                error.detail,
                (time.perf_counter() - started) * 1000,
            )
            await context.abort(grpc.StatusCode[error.status], error.public_message)

    async def _receive(
        self, requests: AsyncIterator[compress_pb2.CompressRequest], source: SpooledInput
    ) -> None:
        """Spool the chunks to disk, enforcing the byte cap and the format as they arrive."""
        cap = self._limits.max_input_bytes
        sniffed = False
        async for request in requests:
            if request.HasField("options"):
                raise InvalidInput("options must be sent once, in the first message only")
            chunk = request.chunk
            if source.size + len(chunk) > cap:
                raise TooLarge(f"input is larger than {cap} bytes (--max-input-bytes)")
            source.write(chunk)
            if not sniffed and source.size >= SNIFF_BYTES:
                sniff(source.head)
                sniffed = True
        source.close()
        if source.size == 0:
            raise InvalidInput("no image bytes received after the options")
        if not sniffed:
            sniff(source.head)

    async def _process(
        self, source: SpooledInput, target: Path, options: CompressOptions
    ) -> CompressOutcome:
        image_limits = self._limits.image
        header = await self._pool.probe(ProbeJob(source.path, image_limits))
        estimate = estimate_memory(header, source.size)
        async with self._budget.reserve(estimate):
            return await self._pool.compress(
                CompressJob(source.path, target, options, image_limits)
            )


async def _read_options(
    requests: AsyncIterator[compress_pb2.CompressRequest],
) -> CompressOptions:
    first = await anext(requests, None)
    if first is None:
        raise InvalidInput("empty request stream: the first message must carry options")
    if not first.HasField("options"):
        raise InvalidInput("the first message must carry options, not image bytes")
    return options_from_wire(first.options)


def _log_request(outcome: CompressOutcome, started: float) -> None:
    stages = " ".join(f"{s.name}_ms={s.milliseconds:.1f}" for s in outcome.stages)
    logger.info(
        "compress owner=%s format=%s quality=%d bytes_in=%d bytes_out=%d kept_original=%s "
        "%s total_ms=%.1f",
        current_owner(),
        outcome.header.format,
        outcome.quality,
        outcome.input_size,
        outcome.output_size,
        outcome.kept_original,
        stages,
        (time.perf_counter() - started) * 1000,
    )
