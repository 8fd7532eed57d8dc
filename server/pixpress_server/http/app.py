"""The ASGI app: the API routers, problem+json for every error, offline docs, the web page."""

from __future__ import annotations

import re
from importlib import resources
from typing import TYPE_CHECKING, Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi_offline import FastAPIOffline
from starlette.exceptions import HTTPException
from starlette.routing import Match, Mount
from starlette.staticfiles import StaticFiles

from pixpress_server.errors import InvalidInput, NotFound, PixpressServerError
from pixpress_server.http.actions import actions_router
from pixpress_server.http.assets import assets_router
from pixpress_server.http.compress import compress_router
from pixpress_server.http.health import Readiness, health_router
from pixpress_server.http.problems import PROBLEM_JSON, problem, problem_response
from pixpress_server.http.routes import routes_router
from pixpress_server.http.schemas import ProblemJson

if TYPE_CHECKING:
    from fastapi import FastAPI
    from starlette.types import Scope

    from pixpress_server.http.edge import Edge

API_PREFIX = "/v1/"
BEARER = "apiKey"
DESCRIPTION = (
    "Compress an image while maintaining its current format. The same keys, limits and "
    "actions as the gRPC API: send `Authorization: Bearer <key>`. Errors are RFC 9457 "
    "problems whose `code` is the gRPC status name."
)


def build_app(edge: Edge, version: str, readiness: Readiness) -> FastAPI:
    app = FastAPIOffline(
        title="pixpress",
        version=version,
        description=DESCRIPTION,
        static_url="/docs-assets",
        # Swagger UI's default validator badge is an image from validator.swagger.io.
        swagger_ui_parameters={"validatorUrl": None},
    )
    for router in (
        compress_router(edge),
        routes_router(edge),
        assets_router(edge),
        actions_router(edge),
        health_router(readiness),
    ):
        app.include_router(router)
    _problems_for_every_error(app)
    _openapi_as_served(app)
    web = resources.files("pixpress_server.http") / "web"
    if web.is_dir():
        app.router.routes.append(_WebPages(StaticFiles(directory=str(web), html=True)))
    return app


class _WebPages(Mount):
    """The web page's files at `/`, never under /v1/: an API path no route serves is a 404
    problem, and a wrong method on one is the API route's 405 (with its `Allow`), not the
    static files' GET-only answer."""

    def __init__(self, files: StaticFiles) -> None:
        super().__init__("/", app=files, name="web")

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope.get("path", "").startswith(API_PREFIX):
            return Match.NONE, {}
        return super().matches(scope)


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
        headers = dict(error.headers or {})
        code = "INVALID_ARGUMENT"
        if error.status_code == 405:
            code = "UNIMPLEMENTED"
            allowed = _allowed_methods(app, request.scope["path"])
            if allowed:  # else the static files' own answer (GET, HEAD)
                headers["Allow"] = ", ".join(allowed)
        return problem_response(
            error.status_code, str(error.detail), request.url.path, code, headers
        )

    app.add_exception_handler(PixpressServerError, typed)
    app.add_exception_handler(RequestValidationError, invalid)
    app.add_exception_handler(HTTPException, http)
    app.add_exception_handler(Exception, typed)


def _openapi_as_served(app: FastAPI) -> None:
    """The OpenAPI document says what is sent: every error a problem (never FastAPI's 422,
    which the handlers above answer as 400), and the bearer key every /v1 call needs."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = _as_served(build())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _as_served(spec: dict[str, Any]) -> dict[str, Any]:
    problem_ref = {"$ref": f"#/components/schemas/{ProblemJson.__name__}"}
    components = spec.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    schemas[ProblemJson.__name__] = ProblemJson.model_json_schema(
        ref_template="#/components/schemas/{model}"
    )
    components["securitySchemes"] = {
        BEARER: {
            "type": "http",
            "scheme": "bearer",
            "description": "an API key: `pixpress-server keys create --owner NAME`",
        }
    }
    for path, operations in spec.get("paths", {}).items():
        for operation in operations.values():
            if path.startswith(API_PREFIX):
                operation["security"] = [{BEARER: []}]
            responses = operation.get("responses", {})
            responses.pop("422", None)
            if "{" in path and "404" not in responses:
                # A path naming a resource: unknown, or another owner's (never told apart).
                responses["404"] = {
                    "description": "no such resource of yours",
                    "content": {PROBLEM_JSON: {}},
                }
            for status, response in responses.items():
                if int(status) >= 400 and (
                    status == "404" or PROBLEM_JSON in response.get("content", {})
                ):
                    response["content"] = {PROBLEM_JSON: {"schema": problem_ref}}
    return spec


def _allowed_methods(app: FastAPI, path: str) -> list[str]:
    """The methods the OpenAPI document gives the path, the most literal template first, as
    Open API matches (Starlette's 405 names one route's methods, and GET and DELETE of
    /v1/assets/{asset_id} are two routes)."""
    matching = [
        (template.count("{"), template, operations)
        for template, operations in app.openapi()["paths"].items()
        if re.fullmatch(re.sub(r"\\{[^/]+?\\}", "[^/]+", re.escape(template)), path)
    ]
    if not matching:
        return []
    _, _, operations = min(matching)
    methods = {method.upper() for method in operations}
    if "GET" in methods:
        methods.add("HEAD")
    return sorted(methods)


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
