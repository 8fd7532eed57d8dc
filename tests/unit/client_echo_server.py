"""A tiny in-process CompressService for the SDK and CLI tests: it returns the input reversed.

An input starting with b"ABORT <STATUS_NAME> <message>" makes it abort with that status
instead, after the action id and with `abort_metadata` as trailing metadata; one starting
with b"KEEP" comes back unchanged with kept_original set. The action id comes first
(`send_action_id = False` imitates an older server that starts with the result); a stored
input asset ID reads as the bytes b"asset:ID".
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from concurrent import futures
from dataclasses import dataclass, field

import grpc
from pixpress.v1 import compress_pb2 as pb
from pixpress.v1 import compress_pb2_grpc
from pixpress.v1 import image_pb2 as image_pb

OUTPUT_CHUNK = 1024 * 1024
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@dataclass
class Seen:
    """What one call sent: the payload kind of each request, chunk sizes, metadata."""

    kinds: list[str] = field(default_factory=list)
    chunk_sizes: list[int] = field(default_factory=list)
    options: pb.CompressOptions | None = None
    metadata: dict[str, str] = field(default_factory=dict)


class EchoServicer(compress_pb2_grpc.CompressServiceServicer):
    def __init__(self) -> None:
        self.calls: list[Seen] = []
        self.send_action_id = True
        self.abort_metadata: tuple[tuple[str, str], ...] = ()
        self._lock = threading.Lock()

    def input_bytes(self, options: pb.CompressOptions, context) -> bytes:
        return f"asset:{options.input_asset_id}".encode()

    def Compress(self, request_iterator, context):
        seen = Seen(metadata={k: v for k, v in context.invocation_metadata()})
        with self._lock:
            self.calls.append(seen)
        pieces = []
        for request in request_iterator:
            kind = request.WhichOneof("payload")
            seen.kinds.append(kind)
            if kind == "options":
                seen.options = request.options
            else:
                seen.chunk_sizes.append(len(request.chunk))
                pieces.append(request.chunk)
        data = b"".join(pieces)
        if seen.options.input_asset_id:
            data = self.input_bytes(seen.options, context)
        action_id = f"action-{len(self.calls)}"
        if self.send_action_id:
            yield pb.CompressResponse(action_id=action_id)
        if data.startswith(b"ABORT "):
            _, status, message = data.decode().split(" ", 2)
            if self.abort_metadata:
                context.set_trailing_metadata(self.abort_metadata)
            context.abort(grpc.StatusCode[status], message)
        quality = seen.options.quality if seen.options.HasField("quality") else 80
        image_format = (
            image_pb.IMAGE_FORMAT_PNG if data.startswith(PNG_MAGIC) else image_pb.IMAGE_FORMAT_JPEG
        )
        kept = data.startswith(b"KEEP")
        output = data if kept else data[::-1]
        yield pb.CompressResponse(
            result=pb.CompressResult(
                format=image_format,
                input_size=len(data),
                output_size=len(output),
                width=3,
                height=2,
                frames=1,
                quality=quality,
                kept_original=kept,
                kept_original_reason="not smaller" if kept else "",
                stages=[image_pb.Stage(name="encode", output_bytes=len(output), milliseconds=1.5)],
                output_asset_id=f"stored-{action_id}" if seen.options.store_output else "",
            )
        )
        for start in range(0, len(output), OUTPUT_CHUNK):
            yield pb.CompressResponse(chunk=output[start : start + OUTPUT_CHUNK])


@contextlib.contextmanager
def echo_server() -> Iterator[tuple[str, EchoServicer]]:
    """Serve EchoServicer on a free localhost port; yields ("localhost:PORT", servicer)."""
    servicer = EchoServicer()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
    compress_pb2_grpc.add_CompressServiceServicer_to_server(servicer, server)
    port = server.add_insecure_port("localhost:0")
    server.start()
    try:
        yield f"localhost:{port}", servicer
    finally:
        server.stop(grace=None).wait()
