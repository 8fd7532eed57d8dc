"""What every HTTP handler needs: the domain calls, and who is calling (the same gate as
gRPC: failed-auth throttle per address, a valid API key, the key's rate limit)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from fastapi import Request

from pixpress_server.caller import ANONYMOUS, set_owner

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

    async def caller(self, request: Request) -> str:
        """The owner of the request's API key (set for the request's logs, as gRPC does)."""
        if self.gate is None:
            owner = ANONYMOUS
        else:
            owner = await self.gate.admit(request.headers.get("authorization"), peer_of(request))
        set_owner(owner)
        return owner


def peer_of(request: Request) -> str:
    """The client's address in gRPC's peer form (`ipv4:1.2.3.4:5678`), so one address has one
    failed-auth count whichever edge it calls."""
    if request.client is None:
        return "unknown"
    host, port = request.client.host, request.client.port
    return f"ipv6:[{host}]:{port}" if ":" in host else f"ipv4:{host}:{port}"
