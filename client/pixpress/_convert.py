"""The only module besides the generated stubs that touches pb2 types: requests out, results in."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from pixpress._errors import InternalError
from pixpress._results import CompressResult, Stage
from pixpress._validation import check_bool, check_quality
from pixpress.v1 import compress_pb2 as pb

__all__ = ["ResultAssembler", "compress_options", "format_name", "request_stream", "result_from_pb"]

_FORMAT_PREFIX = "IMAGE_FORMAT_"


def compress_options(quality: int | None, keep_metadata: bool) -> pb.CompressOptions:
    """Validated options; quality None leaves the field unset (the server applies 80)."""
    check_bool("keep_metadata", keep_metadata)
    if quality is None:
        return pb.CompressOptions(keep_metadata=keep_metadata)
    return pb.CompressOptions(quality=check_quality(quality), keep_metadata=keep_metadata)


def request_stream(
    options: pb.CompressOptions, chunks: Iterable[bytes]
) -> Iterator[pb.CompressRequest]:
    """The Compress request stream: options first, then one message per chunk."""
    yield pb.CompressRequest(options=options)
    for chunk in chunks:
        yield pb.CompressRequest(chunk=chunk)


def format_name(value: int) -> str:
    """ "jpeg" for IMAGE_FORMAT_JPEG; "unspecified" for 0; "unknown" for a value newer than us."""
    try:
        name = pb.ImageFormat.Name(pb.ImageFormat.ValueType(value))
    except ValueError:
        return "unknown"
    return name.removeprefix(_FORMAT_PREFIX).lower()


def result_from_pb(result: pb.CompressResult, data: bytes) -> CompressResult:
    """The SDK's CompressResult from the wire result and the joined output chunks."""
    return CompressResult(
        data=data,
        format=format_name(result.format),
        input_size=result.input_size,
        output_size=result.output_size,
        width=result.width,
        height=result.height,
        frames=result.frames,
        kept_original=result.kept_original,
        kept_original_reason=result.kept_original_reason,
        quality=result.quality,
        stages=tuple(
            Stage(name=s.name, output_bytes=s.output_bytes, milliseconds=s.milliseconds)
            for s in result.stages
        ),
    )


class ResultAssembler:
    """Consumes the response stream (result first, then chunks) and builds the result.

    Shared by Client and AsyncClient: each only loops over its own kind of stream and
    calls `add` per message, then `finish`.
    """

    def __init__(self) -> None:
        self._result: pb.CompressResult | None = None
        self._chunks: list[bytes] = []
        self._size = 0

    def add(self, response: pb.CompressResponse) -> None:
        """Take one response message; raises InternalError if the stream breaks the contract."""
        kind = response.WhichOneof("payload")
        if self._result is None:
            if kind != "result":
                raise InternalError("server sent output before the result message")
            self._result = response.result
        elif kind == "chunk":
            self._chunks.append(response.chunk)
            self._size += len(response.chunk)
        else:
            raise InternalError("server sent a second result message")

    def finish(self) -> CompressResult:
        """The assembled result; raises InternalError if the stream was incomplete."""
        if self._result is None:
            raise InternalError("server closed the stream without a result")
        if self._size != self._result.output_size:
            raise InternalError(
                f"server announced {self._result.output_size} output bytes but sent {self._size}"
            )
        return result_from_pb(self._result, b"".join(self._chunks))
