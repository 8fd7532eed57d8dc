"""Actions: every compression recorded with its status, watched and cancelled.

The store holds the truth; this tracker adds what only a live server has: the task doing
an action's work (so CancelAction can stop it) and the watchers waiting for its next
status. Another replica's changes wake them through `wake` (the store's notifications);
watchers also re-read the store every few seconds, in case a notification is lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from pixpress_server.errors import (
    InternalFailure,
    NotFound,
    PixpressServerError,
    StatusName,
    WrongState,
)
from pixpress_server.ids import checked_id, new_id
from pixpress_server.store.records import (
    END_OF_TIME,
    ActionErrorData,
    ActionRecord,
    ActionRequestData,
    ActionResponseData,
    ActionStatus,
    Lease,
    utc_now,
)

if TYPE_CHECKING:
    from pixpress_server.store.base import ActionStore

logger = logging.getLogger(__name__)

# The bound on a change reaching a watcher when the store's notifications are lost.
WATCH_REFRESH_SECONDS = 5.0
# How long an action stays leased to its replica without a heartbeat: a replica that died
# holding work lets another take it (or fail it) after at most this long.
LEASE_SECONDS = 30.0
RESTART_MESSAGE = "the server stopped while this action was unfinished; submit it again"

# What to record when an action's work is cancelled: a status name and a message.
CancelReason = tuple[StatusName, str]


@dataclass(slots=True)
class ActionRun:
    """One action's work under way, as `ActionTracker.recording` will record it."""

    action_id: str
    received: tuple[int, str] | None = None  # the input's size and format, once known
    response: ActionResponseData | None = None  # the outcome, once the work has one
    recorded: bool = False  # its terminal status is written


class ActionTracker:
    """Records one replica's actions; it holds the lease of each action it works on (its
    `holder` id is new per process), and only a lease holder or CancelAction ends one."""

    def __init__(
        self,
        store: ActionStore,
        route_id: str,
        lease_seconds: float = LEASE_SECONDS,
        watch_refresh: float = WATCH_REFRESH_SECONDS,
    ) -> None:
        self._store = store
        self._route_id = route_id
        self.holder = new_id()
        self.lease_seconds = lease_seconds
        self.watch_refresh = watch_refresh
        # Per action, one queue per WatchAction call: a put wakes it to re-read the store.
        self._watchers: defaultdict[str, set[asyncio.Queue[None]]] = defaultdict(set)
        self._tasks: dict[str, asyncio.Task[object]] = {}
        self._ended: list[Callable[[ActionStatus], None]] = []

    def wake(self, action_id: str | None) -> None:
        """The action's status may have changed (None: any action's): its watchers re-read."""
        if action_id is None:
            woken = [queue for queues in self._watchers.values() for queue in queues]
        else:
            woken = list(self._watchers.get(action_id, ()))
        for changed in woken:
            changed.put_nowait(None)

    def on_end(self, listener: Callable[[ActionStatus], None]) -> None:
        """Call `listener` with the status whenever this tracker moves an action to a terminal
        status (startup recovery excluded)."""
        self._ended.append(listener)

    async def recover(self, alone: bool = False) -> int:
        """Actions that can't be re-run (streamed, not background) become FAILED once their
        replica's lease expired; `alone` (the only replica, e.g. on SQLite) fails them all."""
        now = END_OF_TIME if alone else utc_now()
        return await self._store.fail_expired_actions(RESTART_MESSAGE, now)

    def lease(self) -> Lease:
        """This replica's lease from now."""
        return Lease(self.holder, utc_now() + timedelta(seconds=self.lease_seconds))

    async def release(self, action_id: str) -> bool:
        """Hand a background action back to the queue unfinished (this replica stops)."""
        released = await self._store.release_action(action_id, self.holder)
        if released:
            logger.info("action %s handed back to the queue", action_id)
        return released

    async def renew(self) -> int:
        """The heartbeat: extend the lease of every action this replica holds."""
        return await self._store.renew_leases(self.lease())

    async def create(self, owner: str, request: ActionRequestData) -> ActionRecord:
        """A QUEUED action, held by this replica."""
        action = self._new(owner, request)
        await self._store.add_action(action, self.lease())
        return action

    async def queue(
        self, owner: str, request: ActionRequestData, max_pending: int
    ) -> ActionRecord | None:
        """A QUEUED background action for any replica to claim; None (nothing recorded) when
        the owner already has `max_pending` unfinished background actions."""
        action = self._new(owner, request)
        added = await self._store.add_action(action, background=True, max_owner_pending=max_pending)
        return action if added else None

    def _new(self, owner: str, request: ActionRequestData) -> ActionRecord:
        return ActionRecord(
            id=new_id(),
            route_id=self._route_id,
            owner=owner,
            status=ActionStatus.QUEUED,
            request=request,
            created=utc_now(),
        )

    async def get(self, owner: str, action_id: str) -> ActionRecord:
        action = await self._store.get_action(owner, checked_id(action_id, "action"))
        if action is None:
            raise NotFound(f"no action {action_id}")
        return action

    async def start(self, action_id: str, input_size: int, input_format: str) -> None:
        """A worker has taken the action up; the input's size and format are recorded."""
        await self._move(action_id, ActionStatus.RUNNING, request_size=(input_size, input_format))

    async def succeed(self, action_id: str, response: ActionResponseData) -> bool:
        """False when the action had ended already, or this replica lost its lease."""
        return await self._move(action_id, ActionStatus.SUCCEEDED, response=response)

    async def fail(
        self,
        action_id: str,
        code: StatusName,
        message: str,
        request_size: tuple[int, str] | None = None,
    ) -> None:
        """FAILED (or CANCELLED for code CANCELLED), unless already finished."""
        status = ActionStatus.CANCELLED if code is StatusName.CANCELLED else ActionStatus.FAILED
        await self._move(
            action_id, status, request_size=request_size, error=ActionErrorData(code, message)
        )

    async def cancel(self, owner: str, action_id: str) -> ActionRecord:
        """CancelAction: stop queued or running work; a finished action can't be cancelled."""
        action = await self.get(owner, action_id)
        if action.status.is_terminal:
            raise WrongState(f"action {action.id} already finished ({action.status})")
        cancelled = await self._move(
            action.id,
            ActionStatus.CANCELLED,
            error=ActionErrorData(StatusName.CANCELLED, "cancelled by the owner"),
            held=False,  # the owner cancels whichever replica holds it
        )
        task = self._tasks.get(action.id)
        if task is not None:
            task.cancel()
        action = await self.get(owner, action_id)
        if not cancelled:  # it finished just now
            raise WrongState(f"action {action.id} already finished ({action.status})")
        return action

    @contextlib.asynccontextmanager
    async def recording(
        self, action_id: str, why_cancelled: Callable[[], CancelReason | None]
    ) -> AsyncIterator[ActionRun]:
        """The block does the action's work; whatever way it ends, the action ends terminal.

        Ending normally records SUCCEEDED with `run.response`; a typed error, its status and
        public message; a cancellation (or a closed generator), `why_cancelled()` (None: a
        background action goes back to the queue unfinished, for another run); anything
        else is a bug: INTERNAL, raised on as InternalFailure. A status already terminal
        (a CancelAction, or `settle`) is kept.
        """
        run = ActionRun(action_id)
        try:
            yield run
        except PixpressServerError as error:
            await self._end(run, (error.status, error.public_message))
            raise
        except Exception as error:
            logger.exception("unexpected failure running action %s", action_id)
            await self._end(run, (StatusName.INTERNAL, "internal error"))
            raise InternalFailure("internal error", repr(error)) from error
        except BaseException:
            reason = why_cancelled()
            if reason is None and not run.recorded:
                run.recorded = True
                await asyncio.shield(self.release(action_id))
            else:
                await self._end(run, reason or (StatusName.CANCELLED, "cancelled"))
            raise
        if run.response is None:
            logger.error("action %s ended without a result", action_id)
            await self._end(run, (StatusName.INTERNAL, "internal error"))
        else:
            await self._end(run, None)

    async def settle(self, run: ActionRun) -> bool:
        """Record SUCCEEDED with `run.response` now, before the `recording` block ends; False
        when the action had ended already or another replica took it over."""
        return await self._end(run, None)

    async def _end(self, run: ActionRun, error: tuple[StatusName, str] | None) -> bool:
        if run.recorded:
            return False
        run.recorded = True
        if error is None:
            assert run.response is not None
            # Shielded: a second cancellation (grpc's, the shutdown's) must not lose the record.
            return await asyncio.shield(self.succeed(run.action_id, run.response))
        await asyncio.shield(self.fail(run.action_id, *error, request_size=run.received))
        return False

    @contextlib.contextmanager
    def running(self, action_id: str, task: asyncio.Task[object]) -> Iterator[None]:
        """While the block runs, CancelAction on `action_id` cancels `task`."""
        self._tasks[action_id] = task
        try:
            yield
        finally:
            self._tasks.pop(action_id, None)

    async def watch(self, owner: str, action_id: str) -> AsyncGenerator[ActionRecord, None]:
        """The action now, then at each status change, ending after a terminal status."""
        action = await self.get(owner, action_id)
        changed: asyncio.Queue[None] = asyncio.Queue()
        watchers = self._watchers[action.id]
        watchers.add(changed)
        try:
            last = action.status
            yield action
            while not action.status.is_terminal:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(changed.get(), self.watch_refresh)
                while not changed.empty():  # one read answers every wake-up so far
                    changed.get_nowait()
                action = await self.get(owner, action.id)
                if action.status != last:
                    last = action.status
                    yield action
        finally:
            watchers.discard(changed)
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
        held: bool = True,
    ) -> bool:
        updated = await self._store.update_action(
            action_id,
            status,
            utc_now(),
            request_size=request_size,
            response=response,
            error=error,
            holder=self.holder if held else "",
        )
        if updated:
            self.wake(action_id)
            if status.is_terminal:
                for listener in self._ended:
                    listener(status)
        return updated
