"""Every HTTP request counted and timed once, at the edge: its method and route template, the
gRPC status name its problem carries (OK below 400) and its duration to the last byte."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pixpress_server.http.problems import CLIENT_CLOSED_REQUEST, PROBLEM_JSON

# Given the call ("POST /v1/compress"), the gRPC status name and the seconds the request took.
Record = Callable[[str, str, float], None]

# Anything else a client sends is one label value, so a client can't add series at will.
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED = "unmatched"


def call_name(scope: Scope) -> str:
    """`METHOD TEMPLATE` of the route that served the request (a template, never the path);
    `METHOD unmatched` when no route matched."""
    method = scope.get("method", "")
    method = method if method in _METHODS else "OTHER"
    route = scope.get("route")
    template = getattr(route, "path", None)
    if template is None:
        return f"{method} {UNMATCHED}"
    return f"{method} {template or '/'}"


def status_name(status: int, problem_code: str | None, error: BaseException | None) -> str:
    """The problem's `code` when it has one, else what the HTTP status (or its absence) says."""
    if problem_code:
        return problem_code
    if error is not None:
        return "CANCELLED" if isinstance(error, asyncio.CancelledError) else "INTERNAL"
    if status in {0, CLIENT_CLOSED_REQUEST}:
        return "CANCELLED"  # the client left before a response was started
    return "OK" if status < 400 else "UNKNOWN"


def _problem_code(body: bytes) -> str | None:
    try:
        code = json.loads(body).get("code")
    except (ValueError, AttributeError):
        return None
    return code if isinstance(code, str) else None


class MeteredHttp:
    """ASGI middleware: records each HTTP request when the app is done with it."""

    def __init__(self, app: ASGIApp, record: Record) -> None:
        self._app = app
        self._record = record

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        started = time.perf_counter()
        response: dict[str, Any] = {"status": 0, "problem": False, "code": None}

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                response["status"] = message["status"]
                headers = dict(message.get("headers", ()))
                response["problem"] = headers.get(b"content-type", b"").startswith(
                    PROBLEM_JSON.encode()
                )
            elif message["type"] == "http.response.body" and response["problem"]:
                # A problem is one small JSON body, sent whole in its first message.
                response["problem"] = False
                response["code"] = _problem_code(message.get("body", b""))
            await send(message)

        error: BaseException | None = None
        try:
            await self._app(scope, receive, sending)
        except BaseException as raised:
            error = raised
            raise
        finally:
            code = status_name(response["status"], response["code"], error)
            self._record(call_name(scope), code, time.perf_counter() - started)
