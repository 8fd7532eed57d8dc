"""The auth interceptor: every RPC but health and reflection passes the gate (failed-auth
throttle per peer, a valid API key, the key's rate limit) before the servicer runs.

The gate runs inside the call, where the peer's address is known; the key's owner is set
in the request's context (`caller.current_owner()`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import grpc

from pixpress_server.caller import set_owner
from pixpress_server.servicers.errors import Context
from pixpress_server.servicers.guard import guard

if TYPE_CHECKING:
    from pixpress_server.auth.gate import Gate
    from pixpress_server.servicers.guard import Check, Handler

OPEN_METHOD_PREFIXES = ("/grpc.health.v1.Health/", "/grpc.reflection.")


def _admission(gate: Gate, authorization: str | None) -> Check:
    async def admit(request: Any, context: Context) -> Any:
        set_owner(await gate.admit(authorization, context.peer()))
        return request

    return admit


class AuthInterceptor(grpc.aio.ServerInterceptor):
    def __init__(self, gate: Gate) -> None:
        self._gate = gate

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[Handler | None]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> Handler | None:
        handler = await continuation(handler_call_details)
        if handler is None or handler_call_details.method.startswith(OPEN_METHOD_PREFIXES):
            return handler
        metadata = dict(handler_call_details.invocation_metadata or ())
        authorization = metadata.get("authorization")
        presented = authorization if isinstance(authorization, str) else None
        return guard(handler, _admission(self._gate, presented))
