"""Actions over HTTP: list (paged, filtered), get, Server-Sent Events until terminal, cancel."""

import asyncio
import contextlib
from collections.abc import AsyncGenerator
from typing import Annotated, Any, get_args

from fastapi import APIRouter, Depends, Query

from pixpress_server.calls.actions import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from pixpress_server.http.compress import _PROBLEMS
from pixpress_server.http.edge import Edge
from pixpress_server.http.problems import PROBLEM_JSON
from pixpress_server.http.responses import ClosingStreamingResponse
from pixpress_server.http.schemas import ActionId, ActionJson, ActionPageJson, Status
from pixpress_server.store.records import ActionRecord, ActionStatus

# A comment line this often keeps proxies from closing a quiet event stream.
KEEPALIVE_SECONDS = 15.0

_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"description": "no such action of yours (another owner's is not found)"}
}
_EVENTS = (
    "`text/event-stream`: one event per status, named after it (`queued`, `running`, "
    "`succeeded`, `failed`, `cancelled`), its data the action as JSON; the stream ends after "
    "the terminal one. Comment lines keep a quiet stream open."
)
_ROUTE_REFERENCE = (
    r"^([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|[^/]+/[^/]+)?$"
)

# Open API 3.1: a text/event-stream schema describes one event.
_EVENT_SCHEMA = {
    "type": "object",
    "required": ["event", "data"],
    "properties": {
        "event": {"type": "string", "enum": list(get_args(Status))},
        "id": {"type": "string", "description": "the status, as the event"},
        "data": {
            "type": "string",
            "description": "the action, as JSON",
            "contentMediaType": "application/json",
            "contentSchema": {"$ref": "#/components/schemas/ActionJson"},
        },
    },
}


def actions_router(edge: Edge) -> APIRouter:
    router = APIRouter(tags=["actions"], responses=_PROBLEMS)
    Owner = Annotated[str, Depends(edge.caller)]

    @router.get(
        "/v1/actions",
        summary="Your actions, newest first",
        responses={404: {"description": "the route filter names no route"}},
    )
    async def list_actions(
        owner: Owner,
        page_size: Annotated[
            int,
            Query(
                description=f"1-{MAX_PAGE_SIZE} actions per page; 0 or absent: {DEFAULT_PAGE_SIZE}",
                json_schema_extra={"minimum": 0, "maximum": MAX_PAGE_SIZE},
            ),
        ] = 0,
        page_token: Annotated[
            str,
            Query(description="the next_page_token of the previous page, with the same filters"),
        ] = "",
        status: Annotated[Status | None, Query(description="only actions in this status")] = None,
        route: Annotated[
            str,
            Query(
                description="only uses of this route: its id or OWNER/NAME",
                json_schema_extra={"pattern": _ROUTE_REFERENCE},
            ),
        ] = "",
    ) -> ActionPageJson:
        page = await edge.actions.list(
            owner, page_size, page_token, None if status is None else ActionStatus(status), route
        )
        return ActionPageJson(
            actions=[ActionJson.of(a) for a in page.actions],
            next_page_token=page.next_page_token,
        )

    @router.get("/v1/actions/{action_id}", summary="One action", responses=_NOT_FOUND)
    async def get_action(action_id: ActionId, owner: Owner) -> ActionJson:
        return ActionJson.of(await edge.actions.get(owner, action_id))

    @router.post(
        "/v1/actions/{action_id}/cancel",
        summary="Cancel a queued or running action",
        responses={
            200: {"description": "the action, now cancelled"},
            **_NOT_FOUND,
            409: {
                "description": "the action already finished (FAILED_PRECONDITION)",
                "content": {PROBLEM_JSON: {}},
            },
        },
    )
    async def cancel_action(action_id: ActionId, owner: Owner) -> ActionJson:
        return ActionJson.of(await edge.actions.cancel(owner, action_id))

    @router.get(
        "/v1/actions/{action_id}/events",
        summary="Server-Sent Events: the action now, then at each status change, until terminal",
        response_class=ClosingStreamingResponse,
        status_code=200,  # FastAPI can't read it from the class's (*args, **kwargs) __init__
        responses={
            200: {
                "description": _EVENTS,
                "content": {"text/event-stream": {"schema": _EVENT_SCHEMA}},
            },
            **_NOT_FOUND,
        },
    )
    async def action_events(action_id: ActionId, owner: Owner) -> ClosingStreamingResponse:
        changes = edge.actions.watch(owner, action_id)
        first = await anext(changes)  # NOT_FOUND is a problem, before the stream starts
        return ClosingStreamingResponse(
            _events(first, changes),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )

    return router


def _event(action: ActionRecord) -> bytes:
    data = ActionJson.of(action).model_dump_json()
    return f"id: {action.status.value}\nevent: {action.status.value}\ndata: {data}\n\n".encode()


async def _events(
    first: ActionRecord, changes: AsyncGenerator[ActionRecord, None]
) -> AsyncGenerator[bytes, None]:
    """One event per status (named after it, the action as JSON data), comments between."""
    yield _event(first)
    async with contextlib.aclosing(changes):
        pending: asyncio.Task[ActionRecord] | None = None
        try:
            while True:
                pending = pending or asyncio.ensure_future(anext(changes))
                done, _ = await asyncio.wait({pending}, timeout=KEEPALIVE_SECONDS)
                if not done:
                    yield b": keep-alive\n\n"
                    continue
                try:
                    action = pending.result()
                except StopAsyncIteration:
                    return
                pending = None
                yield _event(action)
        finally:
            if pending is not None:
                pending.cancel()
