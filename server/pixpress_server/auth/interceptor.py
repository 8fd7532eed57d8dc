"""Authentication of every RPC but health and reflection: the gate (failed-auth throttle
per peer, a valid API key, the key's rate limit) runs before the servicer.

The gate runs inside the call, where the peer's address is known; the key's owner is set
in the request's context (`caller.current_owner()`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pixpress_server.caller import set_owner
from pixpress_server.servicers.errors import Context
from pixpress_server.servicers.guard import guard

if TYPE_CHECKING:
    import grpc

    from pixpress_server.auth.gate import Gate
    from pixpress_server.servicers.guard import Check, Guarding, Handler


def _admission(gate: Gate, authorization: str | None) -> Check:
    async def admit(request: Any, context: Context) -> Any:
        set_owner(await gate.admit(authorization, context.peer()))
        return request

    return admit


def authenticating(gate: Gate) -> Guarding:
    """Each call passes `gate` with its `authorization` metadata before its behaviour runs."""

    def guarded(handler: Handler, details: grpc.HandlerCallDetails) -> Handler:
        metadata = dict(details.invocation_metadata or ())
        authorization = metadata.get("authorization")
        presented = authorization if isinstance(authorization, str) else None
        return guard(handler, _admission(gate, presented))

    return guarded
