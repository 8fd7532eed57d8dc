"""What every HTTP handler needs: the domain calls, and who is calling from where (the same
client address rule and gate as gRPC: failed-auth throttle per address, a valid API key, the
key's rate limit)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from fastapi import Request

from pixpress_server.caller import ANONYMOUS, set_client, set_owner
from pixpress_server.client_address import TRUST_NOBODY, UNKNOWN, TrustedProxies, client_address

if TYPE_CHECKING:
    from pixpress_server.auth.gate import Gate
    from pixpress_server.calls.actions import ActionCalls
    from pixpress_server.calls.assets import AssetCalls
    from pixpress_server.calls.compress import CompressCalls
    from pixpress_server.calls.routes import RouteCalls


@dataclass(frozen=True, slots=True)
class Edge:
    compress: CompressCalls
    assets: AssetCalls
    actions: ActionCalls
    routes: RouteCalls
    gate: Gate | None  # None: --insecure-no-auth
    idle_seconds: float = 60.0  # --stream-idle-timeout: a body that stalls longer is ended
    trusted_proxies: TrustedProxies = TRUST_NOBODY  # --trusted-proxies

    async def caller(self, request: Request) -> str:
        """The owner of the request's API key (set for the request's logs, as gRPC does, with
        the client's address)."""
        client = client_of(request, self.trusted_proxies)
        set_client(client)
        if self.gate is None:
            owner = ANONYMOUS
        else:
            owner = await self.gate.admit(request.headers.get("authorization"), client)
        set_owner(owner)
        return owner


def client_of(request: Request, trusted: TrustedProxies) -> str:
    """The client's address by the rule gRPC uses too: the connection's peer, or the
    rightmost untrusted X-Forwarded-For address when the peer is a trusted proxy."""
    peer = UNKNOWN if request.client is None else request.client.host
    return client_address(peer, request.headers.getlist("x-forwarded-for"), trusted)
