"""Action calls: get, list (paged, newest first, filtered), watch and cancel an owner's actions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from pixpress_server.errors import InvalidInput
from pixpress_server.page_tokens import ListingScope
from pixpress_server.store.records import ActionCursor

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator

    from pixpress_server.actions import ActionTracker
    from pixpress_server.calls.routes import RouteCalls
    from pixpress_server.page_tokens import PageTokens
    from pixpress_server.store.base import ActionStore
    from pixpress_server.store.records import ActionRecord, ActionStatus

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100


@dataclass(frozen=True, slots=True)
class ActionPage:
    actions: tuple[ActionRecord, ...]
    next_page_token: str  # "" on the last page


class ActionCalls:
    def __init__(
        self, tracker: ActionTracker, store: ActionStore, tokens: PageTokens, routes: RouteCalls
    ) -> None:
        self._tracker = tracker
        self._store = store
        self._tokens = tokens
        self._routes = routes

    async def get(self, owner: str, action_id: str) -> ActionRecord:
        return await self._tracker.get(owner, action_id)

    def watch(self, owner: str, action_id: str) -> AsyncGenerator[ActionRecord, None]:
        """The action now, then at each status change, until a terminal status."""
        return self._tracker.watch(owner, action_id)

    async def cancel(self, owner: str, action_id: str) -> ActionRecord:
        return await self._tracker.cancel(owner, action_id)

    async def list(
        self,
        owner: str,
        page_size: int = 0,
        page_token: str = "",
        status: ActionStatus | None = None,
        route: str = "",
    ) -> ActionPage:
        """One page of `owner`'s actions; `page_size` 0 means the default."""
        if not 0 <= page_size <= MAX_PAGE_SIZE:
            raise InvalidInput(
                f"Expected integer between 1 and {MAX_PAGE_SIZE} for page_size "
                f"but received {page_size}"
            )
        size = page_size or DEFAULT_PAGE_SIZE
        route_id = self._routes.action_filter(route)
        scope = ListingScope(owner, status.value if status else "", route_id)
        after = self._tokens.read(page_token, scope) if page_token else None
        # One extra row tells whether another page follows.
        rows = await self._store.list_actions(
            owner, size + 1, after=after, status=status, route_id=route_id or None
        )
        page = tuple(rows[:size])
        token = ""
        if len(rows) > size:
            last = page[-1]
            token = self._tokens.issue(ActionCursor(last.created, last.id), scope)
        return ActionPage(page, token)
