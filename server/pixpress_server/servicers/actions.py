"""The ActionService RPCs: get, list (paged, newest first), watch and cancel."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pixpress.v1 import actions_pb2, actions_pb2_grpc

from pixpress_server.caller import current_owner
from pixpress_server.errors import InvalidInput, NotFound
from pixpress_server.page_tokens import ListingScope
from pixpress_server.servicers.convert import action_to_wire, status_from_wire
from pixpress_server.servicers.errors import streaming_errors, unary_errors
from pixpress_server.servicers.routes import checked_route_reference
from pixpress_server.store.records import ActionCursor

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    import grpc

    from pixpress_server.actions import ActionTracker
    from pixpress_server.page_tokens import PageTokens
    from pixpress_server.routes import Route
    from pixpress_server.store.base import ActionStore

    Context = grpc.aio.ServicerContext[Any, Any]

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100


class ActionServicer(actions_pb2_grpc.ActionServiceServicer):
    def __init__(
        self, tracker: ActionTracker, store: ActionStore, tokens: PageTokens, route: Route
    ) -> None:
        self._route = route
        self._tracker = tracker
        self._store = store
        self._tokens = tokens

    @unary_errors
    async def GetAction(
        self, request: actions_pb2.GetActionRequest, context: Context
    ) -> actions_pb2.Action:
        return action_to_wire(await self._tracker.get(current_owner(), request.id))

    @unary_errors
    async def ListActions(
        self, request: actions_pb2.ListActionsRequest, context: Context
    ) -> actions_pb2.ListActionsResponse:
        return await self._list(request)

    @streaming_errors
    async def WatchAction(
        self, request: actions_pb2.WatchActionRequest, context: Context
    ) -> AsyncIterator[actions_pb2.Action]:
        async for action in self._tracker.watch(current_owner(), request.id):
            yield action_to_wire(action)

    @unary_errors
    async def CancelAction(
        self, request: actions_pb2.CancelActionRequest, context: Context
    ) -> actions_pb2.Action:
        return action_to_wire(await self._tracker.cancel(current_owner(), request.id))

    async def _list(
        self, request: actions_pb2.ListActionsRequest
    ) -> actions_pb2.ListActionsResponse:
        if not 0 <= request.page_size <= MAX_PAGE_SIZE:
            raise InvalidInput(
                f"Expected integer between 1 and {MAX_PAGE_SIZE} for page_size "
                f"but received {request.page_size}"
            )
        page_size = request.page_size or DEFAULT_PAGE_SIZE
        status = status_from_wire(request.status)
        route_id = self._route_filter(request.route_id)
        owner = current_owner()
        scope = ListingScope(owner, status.value if status else "", route_id)
        after = self._tokens.read(request.page_token, scope) if request.page_token else None
        # One extra row tells whether another page follows.
        rows = await self._store.list_actions(
            owner, page_size + 1, after=after, status=status, route_id=route_id or None
        )
        page = rows[:page_size]
        token = ""
        if len(rows) > page_size:
            last = page[-1]
            token = self._tokens.issue(ActionCursor(last.created, last.id), scope)
        return actions_pb2.ListActionsResponse(
            actions=[action_to_wire(a) for a in page], next_page_token=token
        )

    def _route_filter(self, reference: str) -> str:
        """The route id to filter on: "" (none), a UUID, or this server's route identifier."""
        if not reference:
            return ""
        reference = checked_route_reference(reference)
        if self._route.matches(reference):
            return self._route.id
        if "/" in reference:
            raise NotFound(f"no route {reference}")
        return reference  # a well-formed id of a route this server does not serve: no rows
