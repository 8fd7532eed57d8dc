"""The RouteService RPC: describe the route this server serves."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pixpress.v1 import routes_pb2, routes_pb2_grpc

from pixpress_server.caller import current_owner
from pixpress_server.errors import InvalidInput, NotFound
from pixpress_server.ids import checked_id
from pixpress_server.servicers.convert import route_to_wire
from pixpress_server.servicers.errors import unary_errors

if TYPE_CHECKING:
    import grpc

    from pixpress_server.routes import Route


class RouteServicer(routes_pb2_grpc.RouteServiceServicer):
    def __init__(self, route: Route) -> None:
        self._route = route

    @unary_errors
    async def GetRoute(
        self, request: routes_pb2.GetRouteRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> routes_pb2.Route:
        reference = checked_route_reference(request.route)
        # A private route is invisible to other owners: NOT_FOUND, as if absent.
        if not self._route.matches(reference) or not self._route.visible_to(current_owner()):
            raise NotFound(f"no route {request.route}")
        return route_to_wire(self._route)


def checked_route_reference(reference: str) -> str:
    """An identifier OWNER/NAME as is, or a canonical UUID; INVALID_ARGUMENT otherwise."""
    if "/" in reference:
        owner, _, name = reference.partition("/")
        if not owner or not name or "/" in name:
            raise InvalidInput(
                f"malformed route identifier {reference[:128]!r}: expected OWNER/NAME"
            )
        return reference
    if not reference:
        raise InvalidInput("route is required: an id or OWNER/NAME")
    return checked_id(reference, "route")
