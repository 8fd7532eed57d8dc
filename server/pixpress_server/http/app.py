"""The ASGI app: the API routers, problem+json for every error, offline docs, the web page."""

from __future__ import annotations

from importlib import resources
from typing import TYPE_CHECKING

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi_offline import FastAPIOffline
from starlette.exceptions import HTTPException
from starlette.staticfiles import StaticFiles

from pixpress_server.errors import InvalidInput, NotFound, PixpressServerError
from pixpress_server.http.actions import actions_router
from pixpress_server.http.assets import assets_router
from pixpress_server.http.compress import compress_router
from pixpress_server.http.problems import problem, problem_response
from pixpress_server.http.routes import routes_router

if TYPE_CHECKING:
    from fastapi import FastAPI

    from pixpress_server.http.edge import Edge

DESCRIPTION = (
    "Compress an image while maintaining its current format. The same keys, limits and "
    "actions as the gRPC API: send `Authorization: Bearer <key>`. Errors are RFC 9457 "
    "problems whose `code` is the gRPC status name."
)


def build_app(edge: Edge, version: str) -> FastAPI:
    app = FastAPIOffline(
        title="pixpress",
        version=version,
        description=DESCRIPTION,
        static_url="/docs-assets",
    )
    for router in (
        compress_router(edge),
        routes_router(edge),
        assets_router(edge),
        actions_router(edge),
    ):
        app.include_router(router)
    _problems_for_every_error(app)
    web = resources.files("pixpress_server.http") / "web"
    if web.is_dir():
        app.mount("/", StaticFiles(directory=str(web), html=True), name="web")
    return app


def _problems_for_every_error(app: FastAPI) -> None:
    async def typed(request: Request, error: Exception) -> JSONResponse:
        return problem(error, request.url.path)

    async def invalid(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, RequestValidationError)
        return problem(InvalidInput(_validation_message(error)), request.url.path)

    async def http(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, HTTPException)
        if error.status_code == 404:
            return problem(NotFound(f"no such path {request.url.path}"), request.url.path)
        code = "UNIMPLEMENTED" if error.status_code == 405 else "INVALID_ARGUMENT"
        return problem_response(
            error.status_code, str(error.detail), request.url.path, code, error.headers
        )

    app.add_exception_handler(PixpressServerError, typed)
    app.add_exception_handler(RequestValidationError, invalid)
    app.add_exception_handler(HTTPException, http)
    app.add_exception_handler(Exception, typed)


def _validation_message(error: RequestValidationError) -> str:
    """FastAPI's validation errors as one sentence: where, what was expected, what came."""
    parts = []
    for item in error.errors()[:5]:
        where = ".".join(str(p) for p in item.get("loc", ()) if p not in {"query", "body"})
        received = item.get("input")
        text = f"{where or 'request'}: {item.get('msg', 'invalid')}"
        if received is not None and not isinstance(received, dict | list):
            text += f" (received {str(received)[:64]!r})"
        parts.append(text)
    return "; ".join(parts) or "invalid request"
