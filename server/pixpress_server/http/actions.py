"""Actions over HTTP: list (paged, filtered), get, Server-Sent Events until terminal, cancel."""

import asyncio
import contextlib
from collections.abc import AsyncGenerator
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from pixpress_server.calls.actions import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from pixpress_server.http.compress import _PROBLEMS
from pixpress_server.http.edge import Edge
from pixpress_server.http.responses import ClosingStreamingResponse
from pixpress_server.http.schemas import ActionJson, ActionPageJson, Status
from pixpress_server.store.records import ActionRecord, ActionStatus

# A comment line this often keeps proxies from closing a quiet event stream.
KEEPALIVE_SECONDS = 15.0


def actions_router(edge: Edge) -> APIRouter:
    router = APIRouter(tags=["actions"], responses=_PROBLEMS)
    Owner = Annotated[str, Depends(edge.caller)]

    @router.get("/v1/actions", summary="Your actions, newest first")
    async def list_actions(
        owner: Owner,
        page_size: Annotated[
            int, Query(description=f"1-{MAX_PAGE_SIZE}; default {DEFAULT_PAGE_SIZE}")
        ] = 0,
        page_token: Annotated[str, Query(description="next_page_token of the last page")] = "",
        status: Status | None = None,
        route: Annotated[str, Query(description="a route id or OWNER/NAME")] = "",
    ) -> ActionPageJson:
        page = await edge.actions.list(
            owner, page_size, page_token, None if status is None else ActionStatus(status), route
        )
        return ActionPageJson(
            actions=[ActionJson.of(a) for a in page.actions],
            next_page_token=page.next_page_token,
        )

    @router.get("/v1/actions/{action_id}", summary="One action")
    async def get_action(action_id: str, owner: Owner) -> ActionJson:
        return ActionJson.of(await edge.actions.get(owner, action_id))

    @router.post("/v1/actions/{action_id}/cancel", summary="Cancel a queued or running action")
    async def cancel_action(action_id: str, owner: Owner) -> ActionJson:
        return ActionJson.of(await edge.actions.cancel(owner, action_id))

    @router.get(
        "/v1/actions/{action_id}/events",
        summary="Server-Sent Events: the action now, then at each status change, until terminal",
        response_class=ClosingStreamingResponse,
        responses={200: {"content": {"text/event-stream": {}}}},
    )
    async def action_events(action_id: str, owner: Owner) -> ClosingStreamingResponse:
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
