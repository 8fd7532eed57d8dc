"""What Client and AsyncClient share apart from their channel: settings and one call's setup."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TypedDict

import grpc

from pixpress._chunks import Source, open_chunks
from pixpress._config import DEFAULT_CHUNK_SIZE, Settings
from pixpress._convert import ResultAssembler, compress_options, request_stream
from pixpress._errors import InvalidOptionsError, PixpressError, translating_rpc_errors
from pixpress._tls import CertificateSource, channel_credentials
from pixpress.v1 import compress_pb2 as pb

__all__ = ["BaseClient", "CallOptions", "Calls", "Exchange", "check_compress_input"]


class CallOptions(TypedDict):
    """Keyword arguments every RPC gets: deadline and metadata (the API key)."""

    timeout: float | None
    metadata: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class Calls:
    """Per-call setup from the client's settings, handed to the resources (assets, ...)."""

    settings: Settings

    def options(self, timeout: float | None) -> CallOptions:
        """Deadline (this call's, else the client's) and metadata for one RPC."""
        return CallOptions(
            timeout=self.settings.call_timeout(timeout), metadata=self.settings.metadata
        )

    @property
    def chunk_size(self) -> int:
        return self.settings.chunk_size


@dataclass(frozen=True, slots=True)
class Exchange:
    """One Compress call in the making: the requests to send, where the responses go."""

    requests: Iterator[pb.CompressRequest]
    assembler: ResultAssembler


def check_compress_input(data_or_path: Source | None, input_asset_id: str | None) -> None:
    """Exactly one input: image bytes / a path, or a stored asset's id (else
    InvalidOptionsError)."""
    if (data_or_path is None) == (input_asset_id is None):
        raise InvalidOptionsError("Expected exactly one of data_or_path or input_asset_id")


class BaseClient:
    """Resolves target, API key, chunk size, timeout and TLS once (see Client for the
    arguments)."""

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
        if credentials is not None and (tls is not None or root_certificates is not None):
            raise InvalidOptionsError(
                "Expected credentials or tls/root_certificates, not both (credentials already"
                " say how to connect)"
            )
        self._settings = Settings.resolve(
            target,
            api_key=api_key,
            chunk_size=chunk_size,
            timeout=timeout,
            tls=tls,
            root_certificates=root_certificates,
        )
        self._calls = Calls(self._settings)
        # None: a plaintext channel.
        self._credentials = channel_credentials(self._settings.tls, credentials)

    @property
    def target(self) -> str:
        """The "host:port" this client talks to (several: separated by commas)."""
        return self._settings.target

    def _call_options(self, timeout: float | None) -> CallOptions:
        return self._calls.options(timeout)

    @contextlib.contextmanager
    def _compress_exchange(
        self,
        source: Source | None,
        quality: int | None,
        keep_metadata: bool,
        *,
        effort: int | None = None,
        target_score: float | None = None,
        max_bytes: int | None = None,
        input_asset_id: str | None = None,
        store_output: bool = False,
    ) -> Iterator[Exchange]:
        """Validate options (InvalidOptionsError), open the source (OSError), then run the
        block with gRPC errors translated and the file kept open until the block ends.

        With `input_asset_id` (and no source) only the options are sent, no chunks. A
        PixpressError raised in the block carries the call's action id when one was seen.
        """
        check_compress_input(source, input_asset_id)
        options = compress_options(
            quality,
            keep_metadata,
            effort=effort,
            target_score=target_score,
            max_bytes=max_bytes,
            input_asset_id=input_asset_id,
            store_output=store_output,
        )
        assembler = ResultAssembler()
        try:
            with contextlib.ExitStack() as stack:
                chunks: Iterator[bytes] = iter(())
                if source is not None:
                    chunks = stack.enter_context(open_chunks(source, self._settings.chunk_size))
                stack.enter_context(translating_rpc_errors())
                yield Exchange(request_stream(options, chunks), assembler)
        except PixpressError as error:
            # The action id streamed first names the action even when the server's error
            # did not repeat it.
            error.action_id = error.action_id or assembler.action_id
            raise

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.target!r})"
