"""An uploaded image as a stream of chunks, whether the body is the raw image or
`multipart/form-data` with a `file` field: never the whole body in memory."""

from __future__ import annotations

from typing import TYPE_CHECKING

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import ClientDisconnect

from pixpress_server.errors import ClientGone, InvalidInput
from pixpress_server.servicers.idle import idle_checked

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from fastapi import Request

FILE_FIELD = "file"
DISCONNECTED = "the client disconnected before the upload ended"


async def image_chunks(request: Request, idle_seconds: float) -> AsyncIterator[bytes]:
    """The image's bytes as they arrive; INVALID_ARGUMENT for a multipart body without one
    `file` field, CANCELLED when the client goes away, DEADLINE_EXCEEDED when it sends
    nothing for `idle_seconds` (--stream-idle-timeout, as on gRPC)."""
    content_type, parameters = parse_options_header(request.headers.get("content-type", ""))
    # uvicorn's keep-alive timeout covers only the time between requests, not a stalled body.
    body = idle_checked(request.stream(), idle_seconds)
    try:
        if content_type == b"multipart/form-data":
            boundary = parameters.get(b"boundary")
            if not boundary:
                raise InvalidInput("multipart/form-data without a boundary")
            async for chunk in _file_field(body, boundary):
                yield chunk
        else:
            async for chunk in body:
                if chunk:
                    yield chunk
    except ClientDisconnect:
        raise ClientGone(DISCONNECTED) from None


class _FileField:
    """Callbacks for python-multipart's streaming parser: keeps the `file` part's data."""

    def __init__(self) -> None:
        self.pending: list[bytes] = []
        self.files_seen = 0
        self._header_name = b""
        self._header_value = b""
        self._in_file = False

    def callbacks(self) -> dict[str, object]:
        return {
            "on_part_begin": self._part_begin,
            "on_header_field": self._header_field,
            "on_header_value": self._header_value_data,
            "on_header_end": self._header_end,
            "on_part_data": self._part_data,
        }

    def _part_begin(self) -> None:
        self._in_file = False
        self._header_name = self._header_value = b""

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]

    def _header_value_data(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def _header_end(self) -> None:
        if self._header_name.lower() == b"content-disposition":
            _, options = parse_options_header(self._header_value)
            if options.get(b"name") == FILE_FIELD.encode():
                self.files_seen += 1
                if self.files_seen > 1:
                    raise InvalidInput("send one `file` field per request")
                self._in_file = True
        self._header_name = self._header_value = b""

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if self._in_file:
            self.pending.append(data[start:end])


async def _file_field(body: AsyncIterator[bytes], boundary: bytes) -> AsyncIterator[bytes]:
    field = _FileField()
    parser = MultipartParser(boundary, field.callbacks())  # type: ignore[arg-type]
    async for chunk in body:
        try:
            parser.write(chunk)
        except MultipartParseError as error:
            raise InvalidInput(f"malformed multipart/form-data body: {error}") from None
        for piece in field.pending:
            yield piece
        field.pending.clear()
    parser.finalize()
    if not field.files_seen:
        raise InvalidInput(f"multipart/form-data body without a `{FILE_FIELD}` field")
