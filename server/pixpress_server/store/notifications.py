"""Action status changes across replicas: each replica LISTENs on one connection of its own
(outside the pool) and hands every notified action id on; the connection comes back after a
drop, with backoff."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import psycopg

logger = logging.getLogger(__name__)

CHANNEL = "pixpress_actions"
APPLICATION_NAME = "pixpress-listener"  # how an operator (or a test) finds it in pg_stat_activity
FIRST_RETRY = 0.2
LAST_RETRY = 5.0  # the backoff's ceiling: a database back from an outage is heard within this
# A silently dead connection (a lost host, a cut network) is noticed within about 20 s.
_CONNECTION: dict[str, Any] = {
    "autocommit": True,
    "application_name": APPLICATION_NAME,
    "connect_timeout": 10,
    "keepalives": 1,
    "keepalives_idle": 10,
    "keepalives_interval": 3,
    "keepalives_count": 3,
    "tcp_user_timeout": 10_000,
}


def notifying(update: str) -> str:
    """`update` (an UPDATE of `actions` without RETURNING) made to notify each action it
    changes, sent when its transaction commits; the statement's rowcount stays the same."""
    return f"WITH changed AS ({update} RETURNING id) SELECT pg_notify('{CHANNEL}', id) FROM changed"


# Called with an action id whose status changed, or None: changes may have gone unheard.
ChangeListener = Callable[[str | None], None]


class ActionChanges:
    """One LISTEN connection, reconnected until `close()`; every listener hears every id."""

    def __init__(self, url: str) -> None:
        self._url = url
        self._listeners: list[ChangeListener] = []
        self._task: asyncio.Task[None] | None = None
        self._listening = asyncio.Event()  # set while LISTEN is in effect
        self.connections = 0  # LISTEN connections made so far (a reconnect adds one)

    def subscribe(self, listener: ChangeListener) -> None:
        """Hand `listener` every change from now on; the first call starts listening."""
        self._listeners.append(listener)
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._listen())

    async def listening(self, timeout: float) -> bool:
        """Wait up to `timeout` seconds for LISTEN to be in effect; whether it is."""
        try:
            await asyncio.wait_for(self._listening.wait(), timeout)
        except TimeoutError:
            return False
        return True

    async def close(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.wait([task])

    async def _listen(self) -> None:
        retry = FIRST_RETRY
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(self._url, **_CONNECTION) as conn:
                    await conn.execute(f"LISTEN {CHANNEL}".encode())
                    self.connections += 1
                    if self.connections > 1:
                        logger.info("listening for action changes again")
                    self._listening.set()
                    retry = FIRST_RETRY
                    self._tell(None)  # what changed while nobody listened is re-read now
                    async for notification in conn.notifies():
                        self._tell(notification.payload)
            except (psycopg.Error, OSError) as error:
                logger.warning(
                    "listening for action changes failed (again in %.1f s): %r", retry, error
                )
            finally:
                self._listening.clear()
            await asyncio.sleep(retry)
            retry = min(retry * 2, LAST_RETRY)

    def _tell(self, action_id: str | None) -> None:
        for listener in self._listeners:
            try:
                listener(action_id)
            except Exception:  # one broken listener must not stop the others hearing
                logger.exception("an action change listener failed")
