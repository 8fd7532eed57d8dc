"""The synchronous client: one gRPC channel, safe to share between threads."""

from __future__ import annotations

from collections.abc import Sequence
from types import TracebackType
from typing import Self

import grpc

from pixpress._base import BaseClient
from pixpress._chunks import Source
from pixpress._config import DEFAULT_CHUNK_SIZE
from pixpress._convert import action_from_pb, submit_compress_request
from pixpress._errors import translating_rpc_errors
from pixpress._models import Action
from pixpress._resources import Actions, Assets, Routes
from pixpress._results import CompressResult
from pixpress._tls import CertificateSource
from pixpress._validation import check_id
from pixpress.v1 import compress_pb2 as pb
from pixpress.v1 import compress_pb2_grpc

__all__ = ["Client"]


class Client(BaseClient):
    """Talks to a pixpress server.

    Args:
        target: "host:port"; defaults to $PIXPRESS_SERVER, else "localhost:50051".
            Several servers ("host1:50051,host2:50051", or a list) or "dns:///name:50051"
            (every address of the name, resolved again as connections fail) spread the
            calls round-robin, each call to the next ready server. The names of a list are
            resolved once, here; with TLS every server is checked against the first name.
        api_key: sent as `authorization: Bearer <key>` on every call; defaults to
            $PIXPRESS_API_KEY, else no key. Whitespace around it is dropped.
        chunk_size: bytes per streamed request message (at most 4 MiB - 64 KiB).
        timeout: default deadline of each call in seconds; None waits forever.
        tls: True connects with TLS, trusting the system's CA roots; False forces
            plaintext; None (default) uses TLS only when a CA is given.
        root_certificates: the CA to trust (PEM bytes or text, or a PEM file's path);
            defaults to the file named by $PIXPRESS_TLS_CA. Either implies TLS.
        credentials: gRPC channel credentials, for anything else (client certificates);
            not with tls or root_certificates.

    Raises:
        InvalidOptionsError: chunk_size out of range, an API key with whitespace or a
            control character inside, an unreadable CA file, conflicting TLS arguments.

    Use as a context manager, or call `close()`. Every method raises a PixpressError
    subclass when the server answers with an error status.

    Attributes:
        routes: look up routes (`client.routes.retrieve("pixpress/compress-an-image")`).
        assets: upload, retrieve, download and delete stored images.
        actions: list, retrieve, watch, wait for and cancel actions (every Compress call).
    """

    def __init__(
        self,
        target: str | Sequence[str] | None = None,
        *,
        api_key: str | None = None,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        timeout: float | None = None,
        tls: bool | None = None,
        root_certificates: CertificateSource | None = None,
        credentials: grpc.ChannelCredentials | None = None,
    ) -> None:
        super().__init__(
            target,
            api_key=api_key,
            chunk_size=chunk_size,
            timeout=timeout,
            tls=tls,
            root_certificates=root_certificates,
            credentials=credentials,
        )
        options = self._settings.channel_options
        self._channel = (
            grpc.secure_channel(self._settings.channel.uri, self._credentials, options=options)
            if self._credentials is not None
            else grpc.insecure_channel(self._settings.channel.uri, options=options)
        )
        stub = compress_pb2_grpc.CompressServiceStub(self._channel)
        self._compress = stub.Compress
        self._submit_compress = stub.SubmitCompress
        self.routes = Routes(self._channel, self._calls, self)
        self.assets = Assets(self._channel, self._calls)
        self.actions = Actions(self._channel, self._calls)

    def compress(
        self,
        data_or_path: Source | None = None,
        quality: int | None = None,
        keep_metadata: bool = False,
        *,
        effort: int | None = None,
        target_score: float | None = None,
        max_bytes: int | None = None,
        input_asset_id: str | None = None,
        store_output: bool = False,
        timeout: float | None = None,
    ) -> CompressResult:
        """Compress an image in its own format.

        Args:
            data_or_path: the image bytes, or the path of an image file (a str is a path);
                a file is streamed in chunks, never read whole.
            quality: 1 (smallest) to 100 (lossless only); None (default) lets the server
                apply 80. Not with target_score.
            keep_metadata: keep EXIF, XMP, IPTC and comments (stripped by default).
            effort: 1 (least CPU, for throughput) to 10 (fewest bytes); None lets the server
                apply 5. It trades CPU for bytes at the same quality.
            target_score: a SSIMULACRA2 score, 30 to 95 (90: visually lossless, 70: good),
                to reach instead of a quality: the server picks, per image, the cheapest
                quality whose output scores at least this (`result.score`,
                `result.quality`). Not with quality.
            max_bytes: a byte budget: the best quality, at most `quality` (80 by default),
                whose output fits; `result.budget_met` says whether one did. With
                target_score the budget wins: a quality below the target's may be chosen.
            input_asset_id: compress this stored asset instead (no bytes are sent); give
                exactly one of data_or_path and input_asset_id.
            store_output: also store the output as an asset (`result.output_asset_id`).
            timeout: deadline in seconds for this call; None uses the client's.

        Returns:
            The compressed image and what the server did (with `action_id`).

        Raises:
            InvalidOptionsError: both or neither input, an option out of range ("Expected
                integer between 1 and 10 for effort but received 11"), quality with
                target_score, or a flag invalid (before any call; also a ValueError).
            OSError: the file cannot be opened.
            PixpressError: the server answered with an error status (a subclass per status);
                its `action_id` names the action that recorded the failure.
        """
        with self._compress_exchange(
            data_or_path,
            quality,
            keep_metadata,
            effort=effort,
            target_score=target_score,
            max_bytes=max_bytes,
            input_asset_id=input_asset_id,
            store_output=store_output,
        ) as exchange:
            responses = self._compress(exchange.requests, **self._call_options(timeout))
            try:
                for response in responses:
                    exchange.assembler.add(response)
            except BaseException:
                responses.cancel()  # a broken stream or Ctrl-C: don't leave the call open
                raise
        return exchange.assembler.finish()

    def submit_compress(
        self,
        input_asset_id: str,
        quality: int | None = None,
        keep_metadata: bool = False,
        *,
        effort: int | None = None,
        target_score: float | None = None,
        max_bytes: int | None = None,
        timeout: float | None = None,
    ) -> Action:
        """Compress a stored asset in the background; returns its action at once, QUEUED.

        The output is stored as an asset: once `client.actions.wait(action.id)` returns a
        succeeded action, `action.response.output_asset_id` names it. The options are as for
        `compress`.

        Raises:
            InvalidOptionsError: an empty id, or an option invalid as for `compress` (before
                any call).
            NotFoundError: no such asset of the caller.
        """
        check_id("input_asset_id", input_asset_id)
        request = submit_compress_request(
            input_asset_id, quality, keep_metadata, effort, target_score, max_bytes
        )
        return self._submit(request, timeout)

    def _submit(self, request: pb.SubmitCompressRequest, timeout: float | None) -> Action:
        with translating_rpc_errors():
            message = self._submit_compress(request, **self._call_options(timeout))
        return action_from_pb(message)

    def close(self) -> None:
        """Close the channel; calls in flight are cancelled."""
        self._channel.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
