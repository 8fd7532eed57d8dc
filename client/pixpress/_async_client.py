"""The asyncio client (grpc.aio): mirrors Client with awaitable methods."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from types import TracebackType
from typing import Self, TypeVar

import grpc
import grpc.aio

from pixpress._base import BaseClient
from pixpress._chunks import Source, is_path
from pixpress._config import DEFAULT_CHUNK_SIZE
from pixpress._results import CompressResult
from pixpress.v1 import compress_pb2_grpc

__all__ = ["AsyncClient"]

_T = TypeVar("_T")


async def _in_thread(items: Iterator[_T]) -> AsyncIterator[_T]:
    """Iterate `items` in a worker thread so file reads never block the event loop."""
    while (item := await asyncio.to_thread(next, items, None)) is not None:
        yield item


class AsyncClient(BaseClient):
    """Talks to a pixpress server from asyncio; arguments as for Client.

    Use with `async with`, or await `close()`. Must be created inside a running loop.
    """

    def __init__(
        self,
        target: str | None = None,
        *,
        api_key: str | None = None,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        timeout: float | None = None,
        credentials: grpc.ChannelCredentials | None = None,
    ) -> None:
        super().__init__(target, api_key=api_key, chunk_size=chunk_size, timeout=timeout)
        options = self._settings.channel_options
        self._channel = (
            grpc.aio.secure_channel(self._settings.target, credentials, options=options)
            if credentials is not None
            else grpc.aio.insecure_channel(self._settings.target, options=options)
        )
        self._compress = compress_pb2_grpc.CompressServiceStub(self._channel).Compress

    async def compress(
        self,
        data_or_path: Source,
        quality: int | None = 80,
        keep_metadata: bool = False,
        *,
        timeout: float | None = None,
    ) -> CompressResult:
        """Compress an image in its own format; see Client.compress."""
        with self._compress_exchange(data_or_path, quality, keep_metadata) as exchange:
            # File reads go to a thread; slicing bytes is cheap enough for the loop.
            requests = exchange.requests
            call = self._compress(
                _in_thread(requests) if is_path(data_or_path) else requests,
                **self._call_options(timeout),
            )
            try:
                async for response in call:
                    exchange.assembler.add(response)
            except BaseException:
                call.cancel()
                raise
        return exchange.assembler.finish()

    async def close(self) -> None:
        """Close the channel; calls in flight are cancelled."""
        await self._channel.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()
