"""The ActionService RPCs: get, list (paged, newest first), watch and cancel."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pixpress.v1 import actions_pb2, actions_pb2_grpc

from pixpress_server.caller import current_owner
from pixpress_server.servicers.convert import action_to_wire, status_from_wire
from pixpress_server.servicers.errors import streaming_errors, unary_errors

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    import grpc

    from pixpress_server.calls.actions import ActionCalls

    Context = grpc.aio.ServicerContext[Any, Any]


class ActionServicer(actions_pb2_grpc.ActionServiceServicer):
    def __init__(self, actions: ActionCalls) -> None:
        self._actions = actions

    @unary_errors
    async def GetAction(
        self, request: actions_pb2.GetActionRequest, context: Context
    ) -> actions_pb2.Action:
        return action_to_wire(await self._actions.get(current_owner(), request.id))

    @unary_errors
    async def ListActions(
        self, request: actions_pb2.ListActionsRequest, context: Context
    ) -> actions_pb2.ListActionsResponse:
        page = await self._actions.list(
            current_owner(),
            request.page_size,
            request.page_token,
            status_from_wire(request.status),
            request.route_id,
        )
        return actions_pb2.ListActionsResponse(
            actions=[action_to_wire(a) for a in page.actions],
            next_page_token=page.next_page_token,
        )

    @streaming_errors
    async def WatchAction(
        self, request: actions_pb2.WatchActionRequest, context: Context
    ) -> AsyncIterator[actions_pb2.Action]:
        async for action in self._actions.watch(current_owner(), request.id):
            yield action_to_wire(action)

    @unary_errors
    async def CancelAction(
        self, request: actions_pb2.CancelActionRequest, context: Context
    ) -> actions_pb2.Action:
        return action_to_wire(await self._actions.cancel(current_owner(), request.id))
