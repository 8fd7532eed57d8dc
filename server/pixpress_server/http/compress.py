"""POST /v1/compress: the image in the body (raw or multipart), the compressed image back."""

import contextlib
from collections.abc import AsyncGenerator
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response

from pixpress_server.calls.compress import CompressRequest, Finished, Started
from pixpress_server.calls.options import compress_options
from pixpress_server.errors import StatusName
from pixpress_server.http.bodies import DISCONNECTED, image_chunks
from pixpress_server.http.edge import Edge
from pixpress_server.http.problems import problem
from pixpress_server.http.responses import (
    ACTION_ID_HEADER,
    MIME_TYPES,
    ClosingStreamingResponse,
    result_headers,
)
from pixpress_server.http.schemas import (
    RESULT_HEADERS,
    EffortQuery,
    KeepMetadataQuery,
    MaxBytesQuery,
    ProblemJson,
    QualityQuery,
    TargetScoreQuery,
)
from pixpress_server.servicers.idle import StreamIdle
from pixpress_server.spool import read_chunks

RESPONSE_CHUNK_BYTES = 1024 * 1024
_PROBLEMS: dict[int | str, dict[str, Any]] = {
    status: {"model": ProblemJson, "content": {"application/problem+json": {}}}
    for status in (400, 401, 403, 413, 429, 503, 504, 500)
}
_IMAGE_BODY = {
    "requestBody": {
        "required": True,
        "description": "The image itself (any Content-Type but multipart), or "
        "multipart/form-data with the image in a `file` field.",
        "content": {
            "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {"file": {"type": "string", "format": "binary"}},
                    "required": ["file"],
                }
            },
        },
    }
}


def compress_router(edge: Edge) -> APIRouter:
    router = APIRouter(tags=["compress"])
    Owner = Annotated[str, Depends(edge.caller)]

    @router.post(
        "/v1/compress",
        summary="Compress an image, keeping its format",
        response_class=Response,
        responses={
            200: {
                "description": "The compressed image, in the input's format. X-Pixpress-* "
                "headers carry the result; Server-Timing the stages.",
                "content": {mime: {} for mime in MIME_TYPES.values()},
                "headers": RESULT_HEADERS,
            },
            **_PROBLEMS,
        },
        openapi_extra=_IMAGE_BODY,
    )
    async def compress(
        request: Request,
        owner: Owner,
        quality: QualityQuery = None,
        keep_metadata: KeepMetadataQuery = False,
        effort: EffortQuery = None,
        target_score: TargetScoreQuery = None,
        max_bytes: MaxBytesQuery = None,
        store_output: Annotated[
            bool, Query(description="also keep the output as an asset")
        ] = False,
    ) -> Response:
        options = compress_options(quality, keep_metadata, effort, target_score, max_bytes)
        events = edge.compress.stream(
            owner,
            CompressRequest(options, store_output=store_output),
            image_chunks(request, edge.idle_seconds),
            lambda: (StatusName.CANCELLED, DISCONNECTED),
            lambda: False,
        )
        action_id = ""
        try:
            started = await anext(events)
            assert isinstance(started, Started)
            action_id = started.action_id
            finished = await anext(events)
            assert isinstance(finished, Finished)
        except Exception as error:
            await events.aclose()
            headers = {ACTION_ID_HEADER: action_id} if action_id else None
            return problem(error, request.url.path, headers)
        except BaseException:
            await events.aclose()
            raise
        return ClosingStreamingResponse(
            _body(events, finished.done.output, request),
            media_type=MIME_TYPES.get(finished.done.outcome.header.format),
            headers=result_headers(finished.done, finished.action_id),
            idle_seconds=edge.idle_seconds,
        )

    return router


async def _body(
    events: AsyncGenerator[Started | Finished, None], output: Path, request: Request
) -> AsyncGenerator[bytes, None]:
    """The output's bytes; once all are sent, the action succeeds (closing early cancels)."""
    async with contextlib.aclosing(events):
        try:
            for chunk in read_chunks(output, RESPONSE_CHUNK_BYTES):
                # uvicorn drops what is sent after a disconnect without an error, so a client
                # that left would otherwise look served.
                if await request.is_disconnected():
                    return
                yield chunk
        except StreamIdle as error:
            await events.athrow(error)  # recorded DEADLINE_EXCEEDED, as on gRPC
            raise
        if not await request.is_disconnected():
            await anext(events, None)
