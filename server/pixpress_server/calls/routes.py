"""Route calls: describe the route this server serves, by id or OWNER/NAME."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pixpress_server.errors import InvalidInput, NotFound
from pixpress_server.ids import checked_id

if TYPE_CHECKING:
    from pixpress_server.routes import Route


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


class RouteCalls:
    def __init__(self, route: Route) -> None:
        self.route = route

    def describe(self, owner: str, reference: str) -> Route:
        """The route `reference` names; NOT_FOUND if it is not ours or is private to another
        owner (invisible, as if absent)."""
        reference = checked_route_reference(reference)
        if not self.route.matches(reference) or not self.route.visible_to(owner):
            raise NotFound(f"no route {reference}")
        return self.route

    def action_filter(self, reference: str) -> str:
        """The route id to filter actions on: "" (none), a UUID, or this route's identifier."""
        if not reference:
            return ""
        reference = checked_route_reference(reference)
        if self.route.matches(reference):
            return self.route.id
        if "/" in reference:
            raise NotFound(f"no route {reference}")
        return reference  # a well-formed id of a route this server does not serve: no rows
