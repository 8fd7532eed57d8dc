"""`GET /healthz`: the gRPC health status over HTTP, without a key, for probes and load
balancers that speak HTTP only: 200 while SERVING, else a 503 problem saying why."""

from __future__ import annotations

import math
from http import HTTPStatus
from typing import Literal, Protocol

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from pixpress_server.health import PROBE_EVERY
from pixpress_server.http.problems import PROBLEM_JSON, problem_response

HEALTH_PATH = "/healthz"
_RETRY_AFTER = math.ceil(PROBE_EVERY)  # the state is looked at again by then


class Readiness(Protocol):
    @property
    def not_serving(self) -> str | None:
        """Why the server is NOT_SERVING, or None while it is SERVING."""
        ...


class HealthJson(BaseModel):
    status: Literal["SERVING"] = Field(
        "SERVING", description="grpc.health.v1's overall status, as the gRPC Check answers"
    )


def health_router(readiness: Readiness) -> APIRouter:
    router = APIRouter(tags=["health"])

    @router.get(
        HEALTH_PATH,
        response_model=HealthJson,
        summary="Whether this replica serves: a live worker, a store that answers, no drain",
        description='The overall status of the gRPC health service (`""`), with no key '
        "needed: a load balancer sends traffic here only while it answers 200.",
        responses={
            500: {"description": "a bug: logged", "content": {PROBLEM_JSON: {}}},
            503: {
                "description": "NOT_SERVING: no live worker, the store does not answer, or the "
                "server is shutting down (`detail` says which)",
                "content": {PROBLEM_JSON: {}},
                "headers": {
                    "Retry-After": {"description": "seconds", "schema": {"type": "integer"}}
                },
            },
        },
    )
    async def healthz(request: Request) -> HealthJson | JSONResponse:
        reason = readiness.not_serving
        if reason is None:
            return HealthJson(status="SERVING")
        return problem_response(
            HTTPStatus.SERVICE_UNAVAILABLE,
            f"not serving: {reason}",
            request.url.path,
            "UNAVAILABLE",
            {"Retry-After": str(_RETRY_AFTER)},
            _RETRY_AFTER,
        )

    return router
