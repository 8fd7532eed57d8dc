"""What Client and AsyncClient share apart from their channel: settings and one call's setup."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TypedDict

from pixpress._chunks import Source, open_chunks
from pixpress._config import DEFAULT_CHUNK_SIZE, Settings
from pixpress._convert import ResultAssembler, compress_options, request_stream
from pixpress._errors import translating_rpc_errors
from pixpress.v1 import compress_pb2 as pb

__all__ = ["BaseClient", "CallOptions", "Exchange"]


class CallOptions(TypedDict):
    """Keyword arguments every RPC gets: deadline and metadata (the API key)."""

    timeout: float | None
    metadata: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class Exchange:
    """One Compress call in the making: the requests to send, where the responses go."""

    requests: Iterator[pb.CompressRequest]
    assembler: ResultAssembler


class BaseClient:
    """Resolves target, API key, chunk size and timeout once (see Client for the arguments)."""

    def __init__(
        self,
        target: str | None = None,
        *,
        api_key: str | None = None,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        timeout: float | None = None,
    ) -> None:
        self._settings = Settings.resolve(
            target, api_key=api_key, chunk_size=chunk_size, timeout=timeout
        )

    @property
    def target(self) -> str:
        """The "host:port" this client talks to."""
        return self._settings.target

    def _call_options(self, timeout: float | None) -> CallOptions:
        return CallOptions(
            timeout=self._settings.call_timeout(timeout), metadata=self._settings.metadata
        )

    @contextlib.contextmanager
    def _compress_exchange(
        self, source: Source, quality: int | None, keep_metadata: bool
    ) -> Iterator[Exchange]:
        """Validate options (ValueError), open the source (OSError), then run the block with
        gRPC errors translated and the file kept open until the block ends."""
        options = compress_options(quality, keep_metadata)
        with open_chunks(source, self._settings.chunk_size) as chunks, translating_rpc_errors():
            yield Exchange(request_stream(options, chunks), ResultAssembler())

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.target!r})"
