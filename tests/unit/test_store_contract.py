"""The key and action statements every store must honour, run on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from pixpress_server.auth import keys
from pixpress_server.ids import new_id
from pixpress_server.processing.model import StageReport
from pixpress_server.store.base import Store
from pixpress_server.store.records import (
    ActionCursor,
    ActionErrorData,
    ActionRequestData,
    ActionResponseData,
    ActionStatus,
    ApiKeyRecord,
    utc_now,
)

from tests.unit.test_content_store import ROUTE, action, asset

OTHER_ROUTE = "0b8a6d7e-5c4f-4a3b-9e2d-1f0e9d8c7b6a"


async def test_keys_are_found_by_id_with_their_hash_listed_touched_and_revoked(
    store: Store,
) -> None:
    start = utc_now()
    _text, parts = keys.new_key()
    first = ApiKeyRecord(parts.key_id, "alice", start)
    second = ApiKeyRecord("other-key-id", "bob", start + timedelta(microseconds=1))
    await store.add_key(first, keys.secret_hash(parts.secret))
    await store.add_key(second, b"\x01" * 32)
    assert await store.key_with_hash(parts.key_id) == (first, keys.secret_hash(parts.secret))
    assert await store.key_with_hash("no-such-key") is None
    assert await store.list_keys() == [first, second]
    used = start + timedelta(seconds=5, microseconds=123)
    await store.touch_key(parts.key_id, used)
    assert (await store.list_keys())[0].last_used == used  # times keep every microsecond
    assert await store.revoke_key("other-key-id", used)
    assert not await store.revoke_key("other-key-id", used)  # already revoked
    assert not await store.revoke_key("no-such-key", used)
    found = await store.key_with_hash("other-key-id")
    assert found is not None and found[0].revoked == used


async def test_an_action_moves_forward_once_and_keeps_what_was_recorded(store: Store) -> None:
    queued = action(request=ActionRequestData(quality=0, keep_metadata=True, target_score=80.5))
    await store.add_action(queued)
    assert await store.get_action("alice", queued.id) == queued
    assert await store.get_action("bob", queued.id) is None  # another owner's
    started = utc_now()
    assert await store.update_action(
        queued.id, ActionStatus.RUNNING, started, request_size=(1234, "jpeg")
    )
    stage = StageReport(name="encode", output_bytes=99, milliseconds=1.2345678901234567)
    response = ActionResponseData(
        "jpeg", 99, 10, 20, 1, False, "", "", (stage,), quality=71, effort=4, score=80.61
    )
    done = started + timedelta(milliseconds=5)
    assert await store.update_action(queued.id, ActionStatus.SUCCEEDED, done, response=response)
    error = ActionErrorData("CANCELLED", "too late")
    assert not await store.update_action(queued.id, ActionStatus.CANCELLED, done, error=error)
    stored = await store.get_action("alice", queued.id)
    assert stored == queued.replace(
        status=ActionStatus.SUCCEEDED,
        request=ActionRequestData(
            quality=0, keep_metadata=True, target_score=80.5, input_size=1234, input_format="jpeg"
        ),
        response=response,
        started=started,
        finished=done,
    )


async def test_of_two_concurrent_finishes_exactly_one_wins(store: Store) -> None:
    rows = [action() for _ in range(10)]
    for row in rows:
        await store.add_action(row)
    now = utc_now()
    error = ActionErrorData("CANCELLED", "cancelled")
    for row in rows:
        outcomes = await asyncio.gather(
            store.update_action(row.id, ActionStatus.CANCELLED, now, error=error),
            store.update_action(row.id, ActionStatus.FAILED, now, error=error),
        )
        assert sorted(outcomes) == [False, True]


async def test_pages_of_actions_are_newest_first_ties_by_id_and_filtered(store: Store) -> None:
    moment = utc_now()
    tied = [action(created=moment) for _ in range(5)]  # one created time: the id orders them
    older = action(created=moment - timedelta(seconds=1), route_id=OTHER_ROUTE)
    for row in [*tied, older, action(owner="bob")]:
        await store.add_action(row)
    expected = [*sorted((row.id for row in tied), reverse=True), older.id]
    seen: list[str] = []
    cursor: ActionCursor | None = None
    while page := await store.list_actions("alice", 2, after=cursor):
        seen.extend(row.id for row in page)
        cursor = ActionCursor(page[-1].created, page[-1].id)
    assert seen == expected
    only_other = await store.list_actions("alice", 10, route_id=OTHER_ROUTE)
    assert [row.id for row in only_other] == [older.id]
    assert await store.update_action(older.id, ActionStatus.RUNNING, moment)
    running = await store.list_actions("alice", 10, status=ActionStatus.RUNNING)
    assert [row.id for row in running] == [older.id]
    assert [row.route_id for row in await store.list_actions("bob", 10)] == [ROUTE]


async def test_unfinished_actions_without_a_lease_fail_finished_ones_stay(store: Store) -> None:
    queued, running, done = action(), action(), action()
    for row in (queued, running, done):
        await store.add_action(row)  # no lease: rows written before leases, or by nobody
    now = utc_now()
    await store.update_action(running.id, ActionStatus.RUNNING, now)
    await store.update_action(
        done.id, ActionStatus.CANCELLED, now, error=ActionErrorData("CANCELLED", "by the owner")
    )
    assert await store.fail_expired_actions("the server restarted", now) == 2
    failed = await store.get_action("alice", queued.id)
    assert failed is not None and failed.status is ActionStatus.FAILED
    assert failed.error == ActionErrorData("UNAVAILABLE", "the server restarted")
    assert failed.finished == now
    kept = await store.get_action("alice", done.id)
    assert kept is not None and kept.status is ActionStatus.CANCELLED


async def test_concurrent_uploads_of_one_owner_never_pass_the_quota(store: Store) -> None:
    # 60 at once on the pool's connections: without a per-owner lock PostgreSQL lets some
    # pass together (seen in 2 of 3 runs with the lock removed).
    outcomes = await asyncio.gather(
        *(store.add_asset(asset(size=3, sha=new_id()), max_owner_bytes=100) for _ in range(60))
    )
    assert outcomes.count(True) == 33
    assert await store.stored_bytes("alice") == 99


async def test_the_first_secret_stored_under_a_name_is_the_one_every_caller_gets(
    store: Store,
) -> None:
    assert await store.shared_secret("page_tokens", b"first") == b"first"
    assert await store.shared_secret("page_tokens", b"second") == b"first"
    assert await store.shared_secret("other", b"second") == b"second"
