"""Authentication of every RPC but health and reflection: the gate (failed-auth throttle
per client address, a valid API key, the key's rate limit) runs before the servicer.

The checks run inside the call, where the peer's address is known; the client's address
and the key's owner are set in the request's context (`caller.current_client()`,
`caller.current_owner()`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pixpress_server.caller import current_client, set_client, set_owner
from pixpress_server.client_address import client_address
from pixpress_server.servicers.errors import Context
from pixpress_server.servicers.guard import guard

if TYPE_CHECKING:
    import grpc

    from pixpress_server.auth.gate import Gate
    from pixpress_server.client_address import TrustedProxies
    from pixpress_server.servicers.guard import Check, Guarding, Handler

# nginx's `grpc_set_header X-Forwarded-For ...` arrives as this metadata key (HTTP/2 header
# names are lower case).
FORWARDED_FOR = "x-forwarded-for"


def _addressing(trusted: TrustedProxies, forwarded_for: list[str]) -> Check:
    async def address(request: Any, context: Context) -> Any:
        set_client(client_address(context.peer(), forwarded_for, trusted))
        return request

    return address


def addressing(trusted: TrustedProxies) -> Guarding:
    """Each call learns its client's address (the peer, or X-Forwarded-For from a trusted
    proxy) before anything else runs; list it first."""

    def guarded(handler: Handler, details: grpc.HandlerCallDetails) -> Handler:
        forwarded_for = [
            value
            for key, value in details.invocation_metadata or ()
            if key == FORWARDED_FOR and isinstance(value, str)
        ]
        return guard(handler, _addressing(trusted, forwarded_for))

    return guarded


def _admission(gate: Gate, authorization: str | None) -> Check:
    async def admit(request: Any, context: Context) -> Any:
        set_owner(await gate.admit(authorization, current_client()))
        return request

    return admit


def authenticating(gate: Gate) -> Guarding:
    """Each call passes `gate` with its `authorization` metadata before its behaviour runs
    (after `addressing`, whose address the gate counts failures against)."""

    def guarded(handler: Handler, details: grpc.HandlerCallDetails) -> Handler:
        metadata = dict(details.invocation_metadata or ())
        authorization = metadata.get("authorization")
        presented = authorization if isinstance(authorization, str) else None
        return guard(handler, _admission(gate, presented))

    return guarded
