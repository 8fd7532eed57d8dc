"""The RouteService RPC: describe the route this server serves."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pixpress.v1 import routes_pb2, routes_pb2_grpc

from pixpress_server.caller import current_owner
from pixpress_server.servicers.convert import route_to_wire
from pixpress_server.servicers.errors import unary_errors

if TYPE_CHECKING:
    import grpc

    from pixpress_server.calls.routes import RouteCalls


class RouteServicer(routes_pb2_grpc.RouteServiceServicer):
    def __init__(self, routes: RouteCalls) -> None:
        self._routes = routes

    @unary_errors
    async def GetRoute(
        self, request: routes_pb2.GetRouteRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> routes_pb2.Route:
        return route_to_wire(self._routes.describe(current_owner(), request.route))
