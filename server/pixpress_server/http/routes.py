"""Routes over HTTP, in the route page's shape: metadata by id or OWNER/NAME, and `use`."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import JSONResponse

from pixpress_server.calls.compress import CompressRequest
from pixpress_server.calls.options import compress_options
from pixpress_server.http.compress import _PROBLEMS
from pixpress_server.http.edge import Edge
from pixpress_server.http.schemas import (
    ActionJson,
    RouteId,
    RouteJson,
    RouteName,
    RouteOwner,
    UseRequest,
)

RESPOND_ASYNC = "respond-async"

_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"description": "no such route, or a private one of another owner; or no such asset"}
}
_LOCATION = {"Location": {"description": "the action's URL", "schema": {"type": "string"}}}
_ACTION = {"$ref": "#/components/schemas/ActionJson"}
_USE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "the finished action: `response_data` on success, `error` if it failed "
        "(a use without input_asset is recorded FAILED)",
        "headers": _LOCATION,
    },
    202: {
        "description": "`Prefer: respond-async` was sent: the queued action, to poll or watch",
        "headers": {
            **_LOCATION,
            "Preference-Applied": {"description": "respond-async", "schema": {"type": "string"}},
        },
        "content": {"application/json": {"schema": _ACTION}},
    },
    **_NOT_FOUND,
}
_USE_SUMMARY = "Use the route: compress an uploaded image, the output kept as an asset"
_USE_DESCRIPTION = (
    "Waits and answers the finished action (200). With `Prefer: respond-async`, answers "
    "`202 Accepted` at once with the queued action; `Location` is its URL, and "
    "`GET /v1/actions/{id}/events` follows it to the end."
)

Prefer = Annotated[
    str | None,
    Header(description="`respond-async`: answer 202 with the queued action instead of waiting"),
]


def routes_router(edge: Edge) -> APIRouter:
    router = APIRouter(tags=["routes"], responses=_PROBLEMS)
    Owner = Annotated[str, Depends(edge.caller)]

    async def use(
        reference: str, payload: UseRequest, owner: str, prefer: str | None, request: Request
    ) -> JSONResponse:
        edge.routes.describe(owner, reference)
        body = payload.body
        options = compress_options(
            body.quality, body.keep_metadata, body.effort, body.target_score, body.max_bytes
        )
        asset_id = "" if payload.input_asset is None else payload.input_asset.assetId
        action = await edge.compress.submit(owner, CompressRequest(options, asset_id))
        location = {"Location": f"/v1/actions/{action.id}"}
        if RESPOND_ASYNC in _preferences(prefer) and not action.status.is_terminal:
            return JSONResponse(
                ActionJson.of(action).model_dump(),
                status_code=202,
                headers={**location, "Preference-Applied": RESPOND_ASYNC},
            )
        latest = action
        async for update in edge.actions.watch(owner, action.id):
            latest = update
            if await request.is_disconnected():
                break
        return JSONResponse(ActionJson.of(latest).model_dump(), headers=location)

    @router.post(
        "/v1/routes/{route_id}/use",
        summary=_USE_SUMMARY,
        description=_USE_DESCRIPTION,
        response_model=ActionJson,
        responses=_USE_RESPONSES,
    )
    async def use_by_id(
        route_id: RouteId,
        payload: UseRequest,
        owner: Owner,
        request: Request,
        prefer: Prefer = None,
    ) -> JSONResponse:
        return await use(route_id, payload, owner, prefer, request)

    @router.post(
        "/v1/routes/{route_owner}/{name}/use",
        summary=_USE_SUMMARY,
        description=_USE_DESCRIPTION,
        response_model=ActionJson,
        responses=_USE_RESPONSES,
    )
    async def use_by_identifier(
        route_owner: RouteOwner,
        name: RouteName,
        payload: UseRequest,
        owner: Owner,
        request: Request,
        prefer: Prefer = None,
    ) -> JSONResponse:
        return await use(f"{route_owner}/{name}", payload, owner, prefer, request)

    @router.get("/v1/routes/{route_id}", summary="A route's metadata, by id", responses=_NOT_FOUND)
    async def get_by_id(route_id: RouteId, owner: Owner) -> RouteJson:
        return RouteJson.of(edge.routes.describe(owner, route_id))

    @router.get(
        "/v1/routes/{route_owner}/{name}",
        summary="A route's metadata, by OWNER/NAME",
        responses=_NOT_FOUND,
    )
    async def get_by_identifier(
        route_owner: RouteOwner, name: RouteName, owner: Owner
    ) -> RouteJson:
        return RouteJson.of(edge.routes.describe(owner, f"{route_owner}/{name}"))

    return router


def _preferences(header: str | None) -> set[str]:
    """The preference tokens of a Prefer header (RFC 7240), lowercased."""
    if not header:
        return set()
    return {item.split(";")[0].split("=")[0].strip().lower() for item in header.split(",")}
