"""Actions: every compression recorded with its status, watched and cancelled.

The store holds the truth; this tracker adds what only a live server has: the task doing
an action's work (so CancelAction can stop it) and the watchers waiting for its next
status. Watchers also re-read the store every few seconds, so a status written by
another replica still reaches them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING

from pixpress_server.errors import NotFound, PixpressServerError, StatusName, WrongState
from pixpress_server.ids import checked_id, new_id
from pixpress_server.store.records import (
    ActionErrorData,
    ActionRecord,
    ActionRequestData,
    ActionResponseData,
    ActionStatus,
    utc_now,
)

if TYPE_CHECKING:
    from pixpress_server.store.base import ActionStore

logger = logging.getLogger(__name__)

WATCH_REFRESH_SECONDS = 5.0
RESTART_MESSAGE = "the server stopped while this action was unfinished; submit it again"


class ActionTracker:
    def __init__(self, store: ActionStore, route_id: str) -> None:
        self._store = store
        self._route_id = route_id
        self._watchers: defaultdict[str, set[asyncio.Queue[ActionRecord]]] = defaultdict(set)
        self._tasks: dict[str, asyncio.Task[object]] = {}

    async def recover(self) -> int:
        """At start-up: actions left unfinished by a previous run become FAILED."""
        return await self._store.fail_unfinished_actions(RESTART_MESSAGE, utc_now())

    async def create(self, owner: str, request: ActionRequestData) -> ActionRecord:
        action = ActionRecord(
            id=new_id(),
            route_id=self._route_id,
            owner=owner,
            status=ActionStatus.QUEUED,
            request=request,
            created=utc_now(),
        )
        await self._store.add_action(action)
        return action

    async def get(self, owner: str, action_id: str) -> ActionRecord:
        action = await self._store.get_action(owner, checked_id(action_id, "action"))
        if action is None:
            raise NotFound(f"no action {action_id}")
        return action

    async def received(self, action_id: str, input_size: int, input_format: str) -> None:
        """The input is known (still QUEUED): record its size and format."""
        await self._move(action_id, ActionStatus.QUEUED, request_size=(input_size, input_format))

    async def start(self, action_id: str) -> None:
        """A worker has taken the action up."""
        await self._move(action_id, ActionStatus.RUNNING)

    async def succeed(self, action_id: str, response: ActionResponseData) -> None:
        await self._move(action_id, ActionStatus.SUCCEEDED, response=response)

    async def fail(self, action_id: str, error: PixpressServerError) -> None:
        await self._move(
            action_id,
            ActionStatus.FAILED,
            error=ActionErrorData(str(error.status), error.public_message),
        )

    async def fail_with(self, action_id: str, code: StatusName, message: str) -> None:
        await self._move(action_id, ActionStatus.FAILED, error=ActionErrorData(code, message))

    async def abandon(self, action_id: str, message: str) -> None:
        """The caller went away (cancelled the call): CANCELLED, unless already finished."""
        await self._move(
            action_id,
            ActionStatus.CANCELLED,
            error=ActionErrorData(StatusName.CANCELLED, message),
        )

    async def cancel(self, owner: str, action_id: str) -> ActionRecord:
        """CancelAction: stop queued or running work; a finished action can't be cancelled."""
        action = await self.get(owner, action_id)
        if action.status.is_terminal:
            raise WrongState(f"action {action.id} already finished ({action.status})")
        updated = await self._move(
            action.id,
            ActionStatus.CANCELLED,
            error=ActionErrorData(StatusName.CANCELLED, "cancelled by the owner"),
        )
        task = self._tasks.get(action.id)
        if task is not None:
            task.cancel()
        if updated is None:  # it finished just now
            action = await self.get(owner, action_id)
            raise WrongState(f"action {action.id} already finished ({action.status})")
        return updated

    @contextlib.contextmanager
    def running(self, action_id: str, task: asyncio.Task[object]) -> Iterator[None]:
        """While the block runs, CancelAction on `action_id` cancels `task`."""
        self._tasks[action_id] = task
        try:
            yield
        finally:
            self._tasks.pop(action_id, None)

    async def watch(self, owner: str, action_id: str) -> AsyncIterator[ActionRecord]:
        """The action now, then at each status change, ending after a terminal status."""
        action = await self.get(owner, action_id)
        queue: asyncio.Queue[ActionRecord] = asyncio.Queue()
        watchers = self._watchers[action.id]
        watchers.add(queue)
        try:
            last = action.status
            yield action
            while not action.status.is_terminal:
                try:
                    action = await asyncio.wait_for(queue.get(), WATCH_REFRESH_SECONDS)
                except TimeoutError:
                    action = await self.get(owner, action.id)
                if action.status != last:
                    last = action.status
                    yield action
        finally:
            watchers.discard(queue)
            if not watchers:
                self._watchers.pop(action.id, None)

    async def _move(
        self,
        action_id: str,
        status: ActionStatus,
        *,
        request_size: tuple[int, str] | None = None,
        response: ActionResponseData | None = None,
        error: ActionErrorData | None = None,
    ) -> ActionRecord | None:
        updated = await self._store.update_action(
            action_id,
            status,
            utc_now(),
            request_size=request_size,
            response=response,
            error=error,
        )
        if updated is not None and status is not ActionStatus.QUEUED:
            for queue in self._watchers.get(action_id, ()):
                queue.put_nowait(updated)
        return updated
