"""AsyncClient.routes, .assets and .actions: the asyncio twins of _resources, as thin.

File I/O (upload reads, download writes) runs in worker threads, never on the loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncGenerator, AsyncIterator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import grpc.aio

from pixpress._base import Calls
from pixpress._chunks import Source, is_path, open_chunks
from pixpress._convert import (
    action_from_pb,
    asset_from_pb,
    cancel_action_request,
    delete_asset_request,
    download_asset_request,
    get_action_request,
    get_asset_request,
    get_route_request,
    list_actions_request,
    next_page_request,
    page_from_pb,
    route_fields_from_pb,
    upload_stream,
    watch_action_request,
)
from pixpress._errors import PixpressError, translating_rpc_errors
from pixpress._files import DownloadWriter
from pixpress._follow import DEFAULT_POLL_INTERVAL, Follower, last_action
from pixpress._models import Action, ActionPage, ActionStatus, Asset
from pixpress._routes import DEFAULT_PAGE_SIZE, AsyncRoute
from pixpress.v1 import actions_pb2 as actions_pb
from pixpress.v1 import actions_pb2_grpc, assets_pb2_grpc, routes_pb2_grpc

if TYPE_CHECKING:
    from pixpress._async_client import AsyncClient

__all__ = ["AsyncActions", "AsyncAssets", "AsyncRoutes", "in_thread"]

_T = TypeVar("_T")
_Request = TypeVar("_Request")
_Response = TypeVar("_Response")


async def in_thread(items: Iterator[_T]) -> AsyncIterator[_T]:
    """Iterate `items` in a worker thread so file reads never block the event loop."""
    while (item := await asyncio.to_thread(next, items, None)) is not None:
        yield item


def _maybe_threaded(source: Source, items: Iterator[_T]) -> Iterator[_T] | AsyncIterator[_T]:
    """Requests read from a file go through a thread; slicing bytes is cheap enough."""
    return in_thread(items) if is_path(source) else items


async def _unary(
    method: grpc.aio.UnaryUnaryMultiCallable[_Request, _Response],
    request: _Request,
    calls: Calls,
    timeout: float | None,
) -> _Response:
    with translating_rpc_errors():
        return await method(request, **calls.options(timeout))


class AsyncRoutes:
    """`client.routes` of an AsyncClient; see Routes."""

    def __init__(self, channel: grpc.aio.Channel, calls: Calls, client: AsyncClient) -> None:
        self._stub = routes_pb2_grpc.RouteServiceStub(channel)
        self._calls = calls
        self._client = client

    async def retrieve(self, route: str, *, timeout: float | None = None) -> AsyncRoute:
        message = await _unary(self._stub.GetRoute, get_route_request(route), self._calls, timeout)
        return AsyncRoute.bind(route_fields_from_pb(message), self._client)


class AsyncAssets:
    """`client.assets` of an AsyncClient; see Assets."""

    def __init__(self, channel: grpc.aio.Channel, calls: Calls) -> None:
        self._stub = assets_pb2_grpc.AssetServiceStub(channel)
        self._calls = calls

    async def upload(self, data_or_path: Source, *, timeout: float | None = None) -> Asset:
        with (
            open_chunks(data_or_path, self._calls.chunk_size) as chunks,
            translating_rpc_errors(),
        ):
            requests = _maybe_threaded(data_or_path, upload_stream(chunks))
            message = await self._stub.UploadAsset(requests, **self._calls.options(timeout))
        return asset_from_pb(message)

    async def retrieve(self, asset_id: str, *, timeout: float | None = None) -> Asset:
        request = get_asset_request(asset_id)
        return asset_from_pb(await _unary(self._stub.GetAsset, request, self._calls, timeout))

    async def download(
        self, asset_id: str, path: str | os.PathLike[str], *, timeout: float | None = None
    ) -> Path:
        request = download_asset_request(asset_id)
        with DownloadWriter(path) as writer, translating_rpc_errors():
            call = self._stub.DownloadAsset(request, **self._calls.options(timeout))
            try:
                async for response in call:
                    await asyncio.to_thread(writer.add, response)
            except BaseException:
                call.cancel()
                raise
            return await asyncio.to_thread(writer.commit)

    async def delete(self, asset_id: str, *, timeout: float | None = None) -> None:
        request = delete_asset_request(asset_id)
        await _unary(self._stub.DeleteAsset, request, self._calls, timeout)


class AsyncActions:
    """`client.actions` of an AsyncClient; see Actions. `watch` and `iter` are async
    iterators (`async for`)."""

    def __init__(self, channel: grpc.aio.Channel, calls: Calls) -> None:
        self._stub = actions_pb2_grpc.ActionServiceStub(channel)
        self._calls = calls

    async def retrieve(self, action_id: str, *, timeout: float | None = None) -> Action:
        request = get_action_request(action_id)
        return action_from_pb(await _unary(self._stub.GetAction, request, self._calls, timeout))

    async def list(
        self,
        *,
        page_size: int = DEFAULT_PAGE_SIZE,
        page_token: str = "",
        status: ActionStatus | str | None = None,
        route_id: str | None = None,
        timeout: float | None = None,
    ) -> ActionPage:
        request = list_actions_request(page_size, page_token, status, route_id)
        return page_from_pb(await _unary(self._stub.ListActions, request, self._calls, timeout))

    def iter(
        self,
        *,
        page_size: int = 100,
        status: ActionStatus | str | None = None,
        route_id: str | None = None,
        timeout: float | None = None,
    ) -> AsyncIterator[Action]:
        request = list_actions_request(page_size, "", status, route_id)
        return self._pages(request, timeout)

    async def _pages(
        self, request: actions_pb.ListActionsRequest, timeout: float | None
    ) -> AsyncIterator[Action]:
        next_request: actions_pb.ListActionsRequest | None = request
        while next_request is not None:
            response = await _unary(self._stub.ListActions, next_request, self._calls, timeout)
            for action in page_from_pb(response):
                yield action
            next_request = next_page_request(next_request, response)

    async def cancel(self, action_id: str, *, timeout: float | None = None) -> Action:
        request = cancel_action_request(action_id)
        return action_from_pb(await _unary(self._stub.CancelAction, request, self._calls, timeout))

    def watch(
        self,
        action_id: str,
        *,
        timeout: float | None = None,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
    ) -> AsyncGenerator[Action, None]:
        return self._follow(Follower(action_id, timeout, poll_interval))

    async def _follow(self, follower: Follower) -> AsyncGenerator[Action, None]:
        request = watch_action_request(follower.action_id)
        try:
            with translating_rpc_errors():
                call = self._stub.WatchAction(request, **self._calls.options(follower.remaining()))
                try:
                    async for message in call:
                        action = action_from_pb(message)
                        if follower.changed(action):
                            yield action
                        if follower.done:
                            return
                finally:
                    call.cancel()
        except PixpressError as error:
            follower.watch_failed(error)
        while True:  # the stream broke or ended early: poll
            try:
                action = await self.retrieve(follower.action_id, timeout=follower.remaining())
            except PixpressError as error:
                follower.poll_failed(error)  # raises, unless the server is restarting
            else:
                if follower.changed(action):
                    yield action
                if follower.done:
                    return
            await asyncio.sleep(follower.next_poll_delay())

    async def wait(
        self,
        action_id: str,
        *,
        timeout: float | None = None,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
    ) -> Action:
        last: Action | None = None
        updates = self.watch(action_id, timeout=timeout, poll_interval=poll_interval)
        async with contextlib.aclosing(updates):
            async for update in updates:
                last = update
        return last_action(last, action_id)
