"""Assets over HTTP: upload (raw or multipart), metadata, content (ETag, Range), delete."""

import re
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse

from pixpress_server.calls.assets import chunks_of
from pixpress_server.http.bodies import image_chunks
from pixpress_server.http.compress import _IMAGE_BODY, _PROBLEMS, RESPONSE_CHUNK_BYTES
from pixpress_server.http.edge import Edge
from pixpress_server.http.responses import MIME_TYPES, ClosingStreamingResponse
from pixpress_server.http.schemas import CONTENT_HEADERS, AssetId, AssetJson

_RANGE = re.compile(r"bytes=(\d*)-(\d*)")


def assets_router(edge: Edge) -> APIRouter:
    router = APIRouter(tags=["assets"], responses=_PROBLEMS)
    Owner = Annotated[str, Depends(edge.caller)]

    @router.post(
        "/v1/assets", status_code=201, summary="Upload an image", openapi_extra=_IMAGE_BODY
    )
    async def upload(request: Request, owner: Owner) -> JSONResponse:
        asset = await edge.assets.upload(
            owner, image_chunks(request, edge.idle_seconds), lambda: False
        )
        return JSONResponse(
            AssetJson.of(asset).model_dump(),
            status_code=201,
            headers={"Location": f"/v1/assets/{asset.id}"},
        )

    @router.get("/v1/assets/{asset_id}", summary="An asset's metadata")
    async def get(asset_id: AssetId, owner: Owner) -> AssetJson:
        return AssetJson.of(await edge.assets.find(owner, asset_id))

    @router.get(
        "/v1/assets/{asset_id}/content",
        summary="An asset's bytes (ETag, single Range)",
        response_class=Response,
        responses={
            200: {"content": {mime: {} for mime in MIME_TYPES.values()}},
            206: {
                "description": "the requested range",
                "content": {mime: {} for mime in MIME_TYPES.values()},
            },
            304: {"description": "If-None-Match matched the ETag"},
            416: {"description": "the range is outside the content"},
        },
        openapi_extra={"parameters": CONTENT_HEADERS},
    )
    async def content(asset_id: AssetId, request: Request, owner: Owner) -> Response:
        asset = await edge.assets.find(owner, asset_id)
        etag = f'"{asset.sha256}"'
        headers = {"ETag": etag, "Accept-Ranges": "bytes", "Cache-Control": "private"}
        if etag in _tags(request.headers.get("if-none-match", "")):
            return Response(status_code=304, headers=headers)
        media_type = MIME_TYPES.get(asset.format, "application/octet-stream")
        wanted = _RANGE.fullmatch(request.headers.get("range", "").strip())
        # A malformed or multi-range header is ignored: the whole content (RFC 9110 14.2).
        if wanted and request.headers.get("if-range", etag) == etag:
            span = _span(wanted, asset.size)
            if span is None:
                headers["Content-Range"] = f"bytes */{asset.size}"
                return Response(status_code=416, headers=headers)
            start, end = span
            file = await edge.assets.open(asset, start)
            headers["Content-Range"] = f"bytes {start}-{end}/{asset.size}"
            headers["Content-Length"] = str(end - start + 1)
            body = chunks_of(file, RESPONSE_CHUNK_BYTES, end - start + 1)
            return ClosingStreamingResponse(
                body,
                status_code=206,
                media_type=media_type,
                headers=headers,
                idle_seconds=edge.idle_seconds,
            )
        file = await edge.assets.open(asset)
        headers["Content-Length"] = str(asset.size)
        body = chunks_of(file, RESPONSE_CHUNK_BYTES)
        return ClosingStreamingResponse(
            body, media_type=media_type, headers=headers, idle_seconds=edge.idle_seconds
        )

    @router.delete("/v1/assets/{asset_id}", status_code=204, summary="Delete an asset")
    async def delete(asset_id: AssetId, owner: Owner) -> Response:
        await edge.assets.delete(owner, asset_id)
        return Response(status_code=204)

    return router


def _tags(header: str) -> set[str]:
    tags = {tag.strip().removeprefix("W/") for tag in header.split(",")}
    return tags - {""}


def _span(wanted: re.Match[str], size: int) -> tuple[int, int] | None:
    """The byte range asked (inclusive), or None when it is unsatisfiable."""
    first, last = wanted.groups()
    if not first and not last:
        return None
    if not first:  # the last N bytes
        length = int(last)
        return None if length == 0 or size == 0 else (max(0, size - length), size - 1)
    start = int(first)
    end = size - 1 if not last else min(int(last), size - 1)
    if start >= size or start > end:
        return None
    return start, end
