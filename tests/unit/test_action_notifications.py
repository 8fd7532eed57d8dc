"""Action status changes heard across processes: PostgreSQL notifies each change when it
commits, a replica's one listening connection hands the ids to its tracker's watchers, and the
listener comes back after losing its connection."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest_asyncio
from pixpress_server.actions import ActionTracker
from pixpress_server.store.notifications import ActionChanges
from pixpress_server.store.postgres import PostgresStore
from pixpress_server.store.records import (
    ActionErrorData,
    ActionRecord,
    ActionStatus,
    Lease,
    utc_now,
)
from pixpress_server.store.sqlite import SqliteStore

from tests.postgres_service import PostgresServer, listener_pids
from tests.unit.test_content_store import ROUTE, action

WAIT = 30.0  # generous: a loaded 2-core machine; a heard change takes milliseconds
QUIET = 0.5  # how long "nothing is heard" is watched for
CANCELLED = ActionErrorData("CANCELLED", "cancelled by the owner")


class Heard:
    """A change listener recording what it heard, in order."""

    def __init__(self) -> None:
        self.ids: list[str | None] = []
        self._event = asyncio.Event()

    def __call__(self, action_id: str | None) -> None:
        self.ids.append(action_id)
        self._event.set()

    async def until(self, done: Callable[[list[str | None]], bool], what: str) -> None:
        deadline = time.monotonic() + WAIT
        while not done(self.ids):
            self._event.clear()
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"not heard within {WAIT:.0f} s: {what} (heard {self.ids})"
            try:
                await asyncio.wait_for(self._event.wait(), remaining)
            except TimeoutError:
                continue


@pytest_asyncio.fixture(loop_scope="function")
async def database(postgres: PostgresServer) -> str:
    return postgres.new_database()


@pytest_asyncio.fixture(loop_scope="function")
async def writer(database: str) -> AsyncIterator[PostgresStore]:
    """The store of the replica that changes actions."""
    store = await PostgresStore.connect(database)
    yield store
    await store.close()


@pytest_asyncio.fixture(loop_scope="function")
async def reader(database: str) -> AsyncIterator[PostgresStore]:
    """The store of another replica, on the same database."""
    store = await PostgresStore.connect(database)
    yield store
    await store.close()


async def listening(store: PostgresStore) -> Heard:
    heard = Heard()
    store.on_action_changed(heard)
    await heard.until(lambda ids: None in ids, "the first connection's catch-up")
    return heard


async def test_each_status_change_is_heard_by_another_replica_and_nothing_else(
    writer: PostgresStore, reader: PostgresStore
) -> None:
    heard = await listening(reader)
    first, second, lost = action(), action(), action()
    held = Lease("replica-a", utc_now() + timedelta(seconds=30))
    for row in (first, second):
        await writer.add_action(row)
    await writer.add_action(lost, held)
    assert await writer.update_action(first.id, ActionStatus.RUNNING, utc_now())
    await heard.until(lambda ids: first.id in ids, "RUNNING")
    assert await writer.update_action(first.id, ActionStatus.CANCELLED, utc_now(), error=CANCELLED)
    await heard.until(lambda ids: ids.count(first.id) == 2, "CANCELLED")
    # Neither changes anything: a finished action, a lease another replica holds.
    assert not await writer.update_action(first.id, ActionStatus.RUNNING, utc_now())
    assert not await writer.update_action(
        lost.id, ActionStatus.RUNNING, utc_now(), holder="replica-b"
    )
    # Notifications arrive in commit order: once this one is heard, the two above would be.
    assert await writer.update_action(second.id, ActionStatus.RUNNING, utc_now())
    await heard.until(lambda ids: second.id in ids, "the later change")
    assert heard.ids == [None, first.id, first.id, second.id]


async def test_failing_the_actions_of_a_dead_replica_notifies_each(
    writer: PostgresStore, reader: PostgresStore
) -> None:
    heard = await listening(reader)
    expired = Lease("dead-replica", utc_now() - timedelta(seconds=1))
    dead = [action(), action()]
    alive = action()
    for row in dead:
        await writer.add_action(row, expired)
    await writer.add_action(alive, Lease("live-replica", utc_now() + timedelta(seconds=30)))
    assert await writer.fail_expired_actions("the replica stopped", utc_now()) == 2
    await heard.until(lambda ids: len(ids) == 3, "both failed actions")
    assert sorted(heard.ids[1:], key=str) == sorted(row.id for row in dead)
    await asyncio.sleep(QUIET)
    assert alive.id not in heard.ids


async def test_the_listener_comes_back_after_its_connection_is_terminated(
    database: str, writer: PostgresStore, reader: PostgresStore
) -> None:
    heard = await listening(reader)
    row = action()
    await writer.add_action(row)
    [pid] = listener_pids(database)
    with psycopg.connect(database) as conn:
        assert conn.execute("SELECT pg_terminate_backend(%s)", (pid,)).fetchone() == (True,)
    # A new connection re-reads everything (None): changes made meanwhile are not missed.
    await heard.until(lambda ids: ids.count(None) == 2, "the reconnection's catch-up")
    assert reader.changes.connections == 2
    assert await writer.update_action(row.id, ActionStatus.RUNNING, utc_now())
    await heard.until(lambda ids: row.id in ids, "a change after the reconnection")
    new_pids = listener_pids(database)
    assert len(new_pids) == 1 and new_pids != [pid]


async def test_closing_the_store_ends_its_listener_and_leaves_no_task(database: str) -> None:
    store = await PostgresStore.connect(database)
    heard = await listening(store)
    assert len(listener_pids(database)) == 1
    await store.close()
    assert asyncio.all_tasks() == {asyncio.current_task()}
    deadline = time.monotonic() + WAIT  # the backend ends a moment after the socket closes
    while listener_pids(database) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert listener_pids(database) == []
    assert heard.ids == [None]


async def test_a_listener_whose_database_never_answers_closes_at_once() -> None:
    with socket.socket() as silent:  # accepts connections, never says a word
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        changes = ActionChanges(f"postgresql://postgres@127.0.0.1:{silent.getsockname()[1]}/x")
        heard = Heard()
        changes.subscribe(heard)
        assert not await changes.listening(QUIET)  # still connecting
        started = time.monotonic()
        await changes.close()
    assert time.monotonic() - started < 1.0
    assert asyncio.all_tasks() == {asyncio.current_task()}
    assert heard.ids == []


async def next_within(changes: AsyncIterator[ActionRecord], seconds: float) -> ActionRecord:
    return await asyncio.wait_for(anext(changes), seconds)


async def watching_a_queued_action(
    writer: PostgresStore, reader: PostgresStore
) -> tuple[ActionRecord, AsyncGenerator[ActionRecord, None]]:
    """An action added through the writer, watched through a tracker on the reader that has
    seen it QUEUED."""
    # Refreshing every 10 minutes: only the notification can deliver a change in time.
    tracker = ActionTracker(reader, ROUTE, watch_refresh=600)
    reader.on_action_changed(tracker.wake)
    assert await reader.changes.listening(WAIT)
    row = action()
    await writer.add_action(row)
    changes = tracker.watch("alice", row.id)
    assert (await next_within(changes, WAIT)).status is ActionStatus.QUEUED
    return row, changes


async def test_a_tracker_watching_on_one_replica_sees_another_replicas_change_at_once(
    writer: PostgresStore, reader: PostgresStore
) -> None:
    row, changes = await watching_a_queued_action(writer, reader)
    for status in (ActionStatus.RUNNING, ActionStatus.CANCELLED):
        changed = utc_now()
        error = CANCELLED if status.is_terminal else None
        assert await writer.update_action(row.id, status, changed, error=error)
        seen = await next_within(changes, WAIT)
        assert seen.status is status
        assert utc_now() - changed < timedelta(seconds=5)
    await changes.aclose()


async def test_a_change_made_while_the_listener_is_away_reaches_watchers_when_it_is_back(
    postgres: PostgresServer, database: str, writer: PostgresStore, reader: PostgresStore
) -> None:
    row, changes = await watching_a_queued_action(writer, reader)
    pending = asyncio.ensure_future(anext(changes))
    name = database.rsplit("/", 1)[1]
    [pid] = listener_pids(database)
    with psycopg.connect(postgres.url(), autocommit=True) as admin:
        # No new connection to the database: the listener stays away, the writer's pool stays.
        admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false'.encode())
        try:
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
            assert await writer.update_action(row.id, ActionStatus.RUNNING, utc_now())
            done, _ = await asyncio.wait([pending], timeout=QUIET)
            assert not done  # nobody listened, so nobody heard
            assert reader.changes.connections == 1
        finally:
            admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true'.encode())
    assert (await asyncio.wait_for(pending, WAIT)).status is ActionStatus.RUNNING
    assert reader.changes.connections == 2
    await changes.aclose()


async def test_a_wake_makes_only_that_actions_watchers_reread_and_none_wakes_all(
    tmp_path: Path,
) -> None:
    store = SqliteStore(tmp_path / "pixpress.db")
    tracker = ActionTracker(store, ROUTE, watch_refresh=600)
    row, other = action(), action()
    for record in (row, other):
        await store.add_action(record)
    changes = tracker.watch("alice", row.id)
    assert (await next_within(changes, WAIT)).status is ActionStatus.QUEUED
    pending = asyncio.ensure_future(anext(changes))
    await asyncio.sleep(0)  # the watcher waits for a wake-up
    # Changed behind the tracker's back, as another process would.
    assert await store.update_action(row.id, ActionStatus.RUNNING, utc_now())
    tracker.wake(other.id)
    done, _ = await asyncio.wait([pending], timeout=QUIET)
    assert not done
    tracker.wake(None)
    assert (await asyncio.wait_for(pending, WAIT)).status is ActionStatus.RUNNING
    pending = asyncio.ensure_future(anext(changes))
    await asyncio.sleep(0)
    assert await store.update_action(row.id, ActionStatus.FAILED, utc_now(), error=CANCELLED)
    tracker.wake(row.id)
    assert (await asyncio.wait_for(pending, WAIT)).status is ActionStatus.FAILED
    await changes.aclose()
    await store.close()
