"""Authentication of every RPC but health and reflection: the gate (failed-auth throttle
per client address, a valid API key, the key's rate limit) runs before the servicer.

The checks run inside the call, where the peer's address is known; the client's address
and the key's owner are set in the request's context (`caller.current_client()`,
`caller.current_owner()`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pixpress_server.caller import set_client, set_owner
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


def _identification(
    trusted: TrustedProxies, forwarded_for: list[str], gate: Gate | None, authorization: str | None
) -> Check:
    async def identify(request: Any, context: Context) -> Any:
        client = client_address(context.peer(), forwarded_for, trusted)
        set_client(client)
        if gate is not None:
            set_owner(await gate.admit(authorization, client))
        return request

    return identify


def identifying(trusted: TrustedProxies, gate: Gate | None) -> Guarding:
    """Each call learns its client's address (the peer, or X-Forwarded-For from a trusted
    proxy), then passes `gate` with its `authorization` metadata unless auth is off (None):
    one check before its behaviour runs, so one wrapping of every call and message."""

    def guarded(handler: Handler, details: grpc.HandlerCallDetails) -> Handler:
        forwarded_for: list[str] = []
        authorization: str | None = None
        for key, value in details.invocation_metadata or ():
            if key == FORWARDED_FOR and isinstance(value, str):
                forwarded_for.append(value)
            elif key == "authorization":  # the last one, as a dict of the metadata keeps
                authorization = value if isinstance(value, str) else None
        return guard(handler, _identification(trusted, forwarded_for, gate, authorization))

    return guarded
