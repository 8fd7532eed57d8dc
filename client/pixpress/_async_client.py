"""The asyncio client (grpc.aio): mirrors Client with awaitable methods."""

from __future__ import annotations

from collections.abc import Sequence
from types import TracebackType
from typing import Self

import grpc
import grpc.aio

from pixpress._async_resources import AsyncActions, AsyncAssets, AsyncRoutes, in_thread
from pixpress._base import BaseClient
from pixpress._chunks import Source, is_path
from pixpress._config import DEFAULT_CHUNK_SIZE
from pixpress._convert import action_from_pb, submit_compress_request
from pixpress._errors import translating_rpc_errors
from pixpress._models import Action
from pixpress._results import CompressResult
from pixpress._tls import CertificateSource
from pixpress._validation import check_id
from pixpress.v1 import compress_pb2 as pb
from pixpress.v1 import compress_pb2_grpc

__all__ = ["AsyncClient"]


class AsyncClient(BaseClient):
    """Talks to a pixpress server from asyncio; arguments (TLS too) as for Client.

    Use with `async with`, or await `close()`. Must be created inside a running loop.
    `routes`, `assets` and `actions` mirror Client's with async methods; `actions.watch`
    and `actions.iter` are async iterators.
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
            grpc.aio.secure_channel(self._settings.channel.uri, self._credentials, options=options)
            if self._credentials is not None
            else grpc.aio.insecure_channel(self._settings.channel.uri, options=options)
        )
        stub = compress_pb2_grpc.CompressServiceStub(self._channel)
        self._compress = stub.Compress
        self._submit_compress = stub.SubmitCompress
        self.routes = AsyncRoutes(self._channel, self._calls, self)
        self.assets = AsyncAssets(self._channel, self._calls)
        self.actions = AsyncActions(self._channel, self._calls)

    async def compress(
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
        """Compress an image in its own format; see Client.compress."""
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
            # File reads go to a thread; slicing bytes is cheap enough for the loop.
            requests = exchange.requests
            threaded = data_or_path is not None and is_path(data_or_path)
            call = self._compress(
                in_thread(requests) if threaded else requests, **self._call_options(timeout)
            )
            try:
                async for response in call:
                    exchange.assembler.add(response)
            except BaseException:
                call.cancel()
                raise
        return exchange.assembler.finish()

    async def submit_compress(
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
        """Compress a stored asset in the background; see Client.submit_compress."""
        check_id("input_asset_id", input_asset_id)
        request = submit_compress_request(
            input_asset_id, quality, keep_metadata, effort, target_score, max_bytes
        )
        return await self._submit(request, timeout)

    async def _submit(self, request: pb.SubmitCompressRequest, timeout: float | None) -> Action:
        with translating_rpc_errors():
            message = await self._submit_compress(request, **self._call_options(timeout))
        return action_from_pb(message)

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
