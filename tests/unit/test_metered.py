"""The labels the edges' metering gives a request: the call (a route template, never the
path; unknown methods folded) and the gRPC status name however the request ended."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import grpc
import pytest
from pixpress_server.http import metered as http_metered
from pixpress_server.servicers import metered as grpc_metered


@dataclass
class _Route:
    path: str


@pytest.mark.parametrize(
    ("scope", "expected"),
    [
        ({"method": "POST", "route": _Route("/v1/compress")}, "POST /v1/compress"),
        (
            {"method": "GET", "route": _Route("/v1/actions/{action_id}")},
            "GET /v1/actions/{action_id}",
        ),
        ({"method": "GET", "route": _Route("")}, "GET /"),  # the web page's mount
        ({"method": "GET"}, "GET unmatched"),
        ({"method": "BREW", "route": _Route("/v1/compress")}, "OTHER /v1/compress"),
    ],
)
def test_http_call_names(scope: dict[str, Any], expected: str) -> None:
    assert http_metered.call_name(scope) == expected


@pytest.mark.parametrize(
    ("status", "problem_code", "error", "expected"),
    [
        (200, None, None, "OK"),
        (206, None, None, "OK"),
        (304, None, None, "OK"),
        (413, "RESOURCE_EXHAUSTED", None, "RESOURCE_EXHAUSTED"),
        (401, "UNAUTHENTICATED", None, "UNAUTHENTICATED"),
        (499, None, None, "CANCELLED"),
        (0, None, None, "CANCELLED"),
        (0, None, asyncio.CancelledError(), "CANCELLED"),
        (0, None, RuntimeError("bug"), "INTERNAL"),
        (502, None, None, "UNKNOWN"),
    ],
)
def test_http_status_names(
    status: int, problem_code: str | None, error: BaseException | None, expected: str
) -> None:
    assert http_metered.status_name(status, problem_code, error) == expected


@dataclass
class _Context:
    set_code: grpc.StatusCode | None = None
    remaining: float | None = None

    def code(self) -> grpc.StatusCode | None:
        return self.set_code

    def time_remaining(self) -> float | None:
        return self.remaining


@pytest.mark.parametrize(
    ("context", "error", "expected"),
    [
        (_Context(), None, "OK"),
        (_Context(grpc.StatusCode.NOT_FOUND), RuntimeError("abort"), "NOT_FOUND"),
        (_Context(), asyncio.CancelledError(), "CANCELLED"),
        (_Context(remaining=-0.1), asyncio.CancelledError(), "DEADLINE_EXCEEDED"),
        (_Context(remaining=5.0), GeneratorExit(), "CANCELLED"),
        (_Context(), RuntimeError("bug"), "UNKNOWN"),
    ],
)
def test_grpc_status_names(context: _Context, error: BaseException | None, expected: str) -> None:
    assert grpc_metered.status_name(context, error) == expected  # type: ignore[arg-type]
