"""Client.routes, Client.assets and Client.actions: thin synchronous call layers.

Requests, conversions and validation live in _convert, _files, _follow and _routes, shared
with the async twins in _async_resources.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import grpc

from pixpress._base import Calls
from pixpress._chunks import Source, open_chunks
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
from pixpress._routes import DEFAULT_PAGE_SIZE, Route
from pixpress.v1 import actions_pb2 as actions_pb
from pixpress.v1 import actions_pb2_grpc, assets_pb2_grpc, routes_pb2_grpc

if TYPE_CHECKING:
    from pixpress._client import Client

__all__ = ["Actions", "Assets", "Routes"]

_Request = TypeVar("_Request")
_Response = TypeVar("_Response")


def _unary(
    method: grpc.UnaryUnaryMultiCallable[_Request, _Response],
    request: _Request,
    calls: Calls,
    timeout: float | None,
) -> _Response:
    with translating_rpc_errors():
        return method(request, **calls.options(timeout))


class Routes:
    """`client.routes`: look up the routes the server serves."""

    def __init__(self, channel: grpc.Channel, calls: Calls, client: Client) -> None:
        self._stub = routes_pb2_grpc.RouteServiceStub(channel)
        self._calls = calls
        self._client = client

    def retrieve(self, route: str, *, timeout: float | None = None) -> Route:
        """The route with this id (a UUID) or identifier ("OWNER/NAME").

        Raises:
            NotFoundError: no such route, or a private route of another owner.
        """
        message = _unary(self._stub.GetRoute, get_route_request(route), self._calls, timeout)
        return Route.bind(route_fields_from_pb(message), self._client)


class Assets:
    """`client.assets`: images stored on the server, usable as Compress input."""

    def __init__(self, channel: grpc.Channel, calls: Calls) -> None:
        self._stub = assets_pb2_grpc.AssetServiceStub(channel)
        self._calls = calls

    def upload(self, data_or_path: Source, *, timeout: float | None = None) -> Asset:
        """Store an image (bytes, or a path streamed in chunks, never read whole).

        Raises:
            OSError: the file cannot be opened (before any call).
            InvalidArgumentError: not an image of a supported format.
        """
        with (
            open_chunks(data_or_path, self._calls.chunk_size) as chunks,
            translating_rpc_errors(),
        ):
            message = self._stub.UploadAsset(upload_stream(chunks), **self._calls.options(timeout))
        return asset_from_pb(message)

    def retrieve(self, asset_id: str, *, timeout: float | None = None) -> Asset:
        """The asset's description (no bytes)."""
        return asset_from_pb(
            _unary(self._stub.GetAsset, get_asset_request(asset_id), self._calls, timeout)
        )

    def download(
        self, asset_id: str, path: str | os.PathLike[str], *, timeout: float | None = None
    ) -> Path:
        """Stream the asset's bytes into `path` (a directory receives ID.EXT).

        The bytes go to a temporary file next to it, checked against the asset's size and
        SHA-256, then renamed into place: `path` is never left half written.

        Returns:
            The path written.
        """
        request = download_asset_request(asset_id)
        with DownloadWriter(path) as writer, translating_rpc_errors():
            call = self._stub.DownloadAsset(request, **self._calls.options(timeout))
            try:
                for response in call:
                    writer.add(response)
            except BaseException:
                call.cancel()
                raise
            return writer.commit()

    def delete(self, asset_id: str, *, timeout: float | None = None) -> None:
        """Delete the asset (NotFoundError if there is none)."""
        _unary(self._stub.DeleteAsset, delete_asset_request(asset_id), self._calls, timeout)


class Actions:
    """`client.actions`: the caller's own Compress calls, their status and outcome."""

    def __init__(self, channel: grpc.Channel, calls: Calls) -> None:
        self._stub = actions_pb2_grpc.ActionServiceStub(channel)
        self._calls = calls

    def retrieve(self, action_id: str, *, timeout: float | None = None) -> Action:
        """The action now."""
        return action_from_pb(
            _unary(self._stub.GetAction, get_action_request(action_id), self._calls, timeout)
        )

    def list(
        self,
        *,
        page_size: int = DEFAULT_PAGE_SIZE,
        page_token: str = "",
        status: ActionStatus | str | None = None,
        route_id: str | None = None,
        timeout: float | None = None,
    ) -> ActionPage:
        """One page of actions, newest first, optionally of one status or route.

        Raises:
            InvalidOptionsError: page_size outside 1-100 or an unknown status (before any
                call).
        """
        request = list_actions_request(page_size, page_token, status, route_id)
        return page_from_pb(_unary(self._stub.ListActions, request, self._calls, timeout))

    def iter(
        self,
        *,
        page_size: int = 100,
        status: ActionStatus | str | None = None,
        route_id: str | None = None,
        timeout: float | None = None,
    ) -> Iterator[Action]:
        """Every action, newest first, fetching pages of `page_size` as needed; `timeout`
        applies to each page's call."""
        request = list_actions_request(page_size, "", status, route_id)
        return self._pages(request, timeout)

    def _pages(
        self, request: actions_pb.ListActionsRequest, timeout: float | None
    ) -> Iterator[Action]:
        next_request: actions_pb.ListActionsRequest | None = request
        while next_request is not None:
            response = _unary(self._stub.ListActions, next_request, self._calls, timeout)
            yield from page_from_pb(response)
            next_request = next_page_request(next_request, response)

    def cancel(self, action_id: str, *, timeout: float | None = None) -> Action:
        """Cancel a queued or running action; returns it (FailedPreconditionError if finished)."""
        return action_from_pb(
            _unary(self._stub.CancelAction, cancel_action_request(action_id), self._calls, timeout)
        )

    def watch(
        self,
        action_id: str,
        *,
        timeout: float | None = None,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
    ) -> Generator[Action, None, None]:
        """The action now, then at each status change; ends after a terminal status.

        Uses the WatchAction stream; if it breaks (server restart, network) it goes on by
        polling GetAction every `poll_interval` seconds. Close the iterator (or use
        contextlib.closing) to stop early.

        Raises:
            WaitTimeoutError: `timeout` seconds passed first (while iterating).
            NotFoundError: no such action of the caller.
        """
        follower = Follower(action_id, timeout, poll_interval)
        return self._follow(follower)

    def _follow(self, follower: Follower) -> Generator[Action, None, None]:
        request = watch_action_request(follower.action_id)
        try:
            with translating_rpc_errors():
                call = self._stub.WatchAction(request, **self._calls.options(follower.remaining()))
                try:
                    for message in call:
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
                action = self.retrieve(follower.action_id, timeout=follower.remaining())
            except PixpressError as error:
                follower.poll_failed(error)  # raises, unless the server is restarting
            else:
                if follower.changed(action):
                    yield action
                if follower.done:
                    return
            time.sleep(follower.next_poll_delay())

    def wait(
        self,
        action_id: str,
        *,
        timeout: float | None = None,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
    ) -> Action:
        """Block until the action is succeeded, failed or cancelled, and return it.

        Watches the action, falling back to polling if the stream breaks (see `watch`).

        Raises:
            WaitTimeoutError: still not finished after `timeout` seconds; its `last_action`
                is the last state seen.
        """
        last: Action | None = None
        with contextlib.closing(
            self.watch(action_id, timeout=timeout, poll_interval=poll_interval)
        ) as updates:
            for update in updates:
                last = update
        return last_action(last, action_id)
