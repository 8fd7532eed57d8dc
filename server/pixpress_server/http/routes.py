"""Routes over HTTP, in the route page's shape: metadata by id or OWNER/NAME, and `use`."""

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import JSONResponse

from pixpress_server.calls.compress import CompressRequest
from pixpress_server.calls.options import compress_options
from pixpress_server.http.compress import _PROBLEMS
from pixpress_server.http.edge import Edge
from pixpress_server.http.schemas import ActionJson, RouteJson, UseRequest

RESPOND_ASYNC = "respond-async"


def routes_router(edge: Edge) -> APIRouter:
    router = APIRouter(tags=["routes"], responses=_PROBLEMS)
    Owner = Annotated[str, Depends(edge.caller)]

    @router.get("/v1/routes/{route_id}", summary="A route's metadata, by id")
    async def get_by_id(route_id: str, owner: Owner) -> RouteJson:
        return RouteJson.of(edge.routes.describe(owner, route_id))

    @router.get("/v1/routes/{route_owner}/{name}", summary="A route's metadata, by OWNER/NAME")
    async def get_by_identifier(route_owner: str, name: str, owner: Owner) -> RouteJson:
        return RouteJson.of(edge.routes.describe(owner, f"{route_owner}/{name}"))

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

    use_summary = (
        "Use the route: compress the input asset (output stored); answers the finished "
        "action, or 202 with the queued one when `Prefer: respond-async` is sent"
    )

    @router.post("/v1/routes/{route_id}/use", summary=use_summary, response_model=ActionJson)
    async def use_by_id(
        route_id: str,
        payload: UseRequest,
        owner: Owner,
        request: Request,
        prefer: Annotated[str | None, Header()] = None,
    ) -> JSONResponse:
        return await use(route_id, payload, owner, prefer, request)

    @router.post(
        "/v1/routes/{route_owner}/{name}/use", summary=use_summary, response_model=ActionJson
    )
    async def use_by_identifier(
        route_owner: str,
        name: str,
        payload: UseRequest,
        owner: Owner,
        request: Request,
        prefer: Annotated[str | None, Header()] = None,
    ) -> JSONResponse:
        return await use(f"{route_owner}/{name}", payload, owner, prefer, request)

    return router


def _preferences(header: str | None) -> set[str]:
    """The preference tokens of a Prefer header (RFC 7240), lowercased."""
    if not header:
        return set()
    return {item.split(";")[0].split("=")[0].strip().lower() for item in header.split(",")}
