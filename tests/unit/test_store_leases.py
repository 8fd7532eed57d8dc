"""The work queue's statements on both stores: claim, renew, expire, and finishing only
while holding the lease."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from pixpress_server.store.base import Store
from pixpress_server.store.records import (
    ActionErrorData,
    ActionRecord,
    ActionStatus,
    Lease,
    utc_now,
)

from tests.unit.test_content_store import ROUTE, action, asset
from tests.unit.test_store_contract import OTHER_ROUTE

LEASE = timedelta(seconds=30)
CANCELLED = ActionErrorData("CANCELLED", "cancelled by the owner")


async def queued(store: Store, count: int, route_id: str = ROUTE) -> list[ActionRecord]:
    """`count` background actions, created a microsecond apart (oldest first)."""
    start = utc_now() - timedelta(seconds=1)
    rows = [
        action(created=start + timedelta(microseconds=n), route_id=route_id) for n in range(count)
    ]
    for row in rows:
        await store.add_action(row, background=True)
    return rows


async def test_queued_background_actions_are_claimed_oldest_first_and_once(store: Store) -> None:
    rows = await queued(store, 3)
    await store.add_action(action(), Lease("streaming", utc_now() + LEASE))  # not background
    await queued(store, 1, route_id=OTHER_ROUTE)
    now = utc_now()
    first = await store.claim_actions(ROUTE, Lease("a", now + LEASE), now, 2)
    assert [claim.action.id for claim in first] == [rows[0].id, rows[1].id]
    assert not any(claim.reclaimed for claim in first)
    assert first[0].action.request == rows[0].request  # the request travels with the claim
    second = await store.claim_actions(ROUTE, Lease("b", now + LEASE), now, 5)
    assert [claim.action.id for claim in second] == [rows[2].id]
    assert await store.claim_actions(ROUTE, Lease("c", now + LEASE), now, 5) == []


async def test_an_expired_lease_is_claimed_again_and_only_the_new_holder_finishes(
    store: Store,
) -> None:
    (row,) = await queued(store, 1)
    now = utc_now()
    assert len(await store.claim_actions(ROUTE, Lease("a", now + LEASE), now, 1)) == 1
    assert await store.update_action(row.id, ActionStatus.RUNNING, now, holder="a")
    assert not await store.update_action(row.id, ActionStatus.RUNNING, now, holder="b")
    # Still leased to "a" just before it expires; claimable just after.
    before = now + LEASE - timedelta(seconds=1)
    assert await store.claim_actions(ROUTE, Lease("b", before + LEASE), before, 1) == []
    after = now + LEASE + timedelta(seconds=1)
    (claim,) = await store.claim_actions(ROUTE, Lease("b", after + LEASE), after, 1)
    assert claim.action.id == row.id and claim.reclaimed
    assert claim.action.status is ActionStatus.RUNNING
    assert not await store.update_action(row.id, ActionStatus.SUCCEEDED, after, holder="a")
    assert await store.update_action(row.id, ActionStatus.SUCCEEDED, after, holder="b")
    assert not await store.update_action(row.id, ActionStatus.SUCCEEDED, after, holder="b")
    done = await store.get_action("alice", row.id)
    assert done is not None and done.status is ActionStatus.SUCCEEDED
    far = after + 10 * LEASE
    assert await store.claim_actions(ROUTE, Lease("c", far + LEASE), far, 1) == []  # finished


async def test_a_heartbeat_renews_the_holders_unfinished_leases_only(store: Store) -> None:
    rows = await queued(store, 3)
    now = utc_now()
    await store.claim_actions(ROUTE, Lease("a", now + LEASE), now, 2)
    await store.claim_actions(ROUTE, Lease("b", now + LEASE), now, 1)
    await store.update_action(rows[1].id, ActionStatus.CANCELLED, now, error=CANCELLED)
    assert await store.renew_leases(Lease("a", now + 3 * LEASE)) == 1  # rows[1] ended
    later = now + 2 * LEASE
    claims = await store.claim_actions(ROUTE, Lease("c", later + LEASE), later, 5)
    assert [claim.action.id for claim in claims] == [rows[2].id]  # b missed its heartbeat


async def test_the_owner_cancels_whoever_holds_the_lease(store: Store) -> None:
    (row,) = await queued(store, 1)
    now = utc_now()
    await store.claim_actions(ROUTE, Lease("a", now + LEASE), now, 1)
    assert await store.update_action(row.id, ActionStatus.CANCELLED, now, error=CANCELLED)
    assert not await store.update_action(row.id, ActionStatus.FAILED, now, holder="a")
    cancelled = await store.get_action("alice", row.id)
    assert cancelled is not None and cancelled.status is ActionStatus.CANCELLED


async def test_claims_at_once_never_share_an_action(store: Store) -> None:
    for _ in range(3):  # the rounds make an overlap of the claims near certain
        rows = await queued(store, 200)
        now = utc_now()
        batches = await asyncio.gather(
            *(store.claim_actions(ROUTE, Lease(f"r{n}", now + LEASE), now, 25) for n in range(10))
        )
        claimed = [claim.action.id for batch in batches for claim in batch]
        assert sorted(claimed) == sorted(row.id for row in rows)  # each once, none left


async def test_streamed_work_fails_only_once_its_lease_expired(store: Store) -> None:
    now = utc_now()
    streamed = action()
    await store.add_action(streamed, Lease("a", now + LEASE))
    (background,) = await queued(store, 1)
    assert await store.fail_expired_actions("its replica stopped", now) == 0
    assert await store.renew_leases(Lease("a", now + 2 * LEASE)) == 1
    assert await store.fail_expired_actions("its replica stopped", now + LEASE * 1.5) == 0
    later = now + 3 * LEASE
    assert await store.fail_expired_actions("its replica stopped", later) == 1
    failed = await store.get_action("alice", streamed.id)
    assert failed is not None and failed.status is ActionStatus.FAILED
    assert failed.error == ActionErrorData("UNAVAILABLE", "its replica stopped")
    waiting = await store.get_action("alice", background.id)
    assert waiting is not None and waiting.status is ActionStatus.QUEUED  # claimable, not failed


async def test_a_released_action_is_claimable_at_once_by_anyone(store: Store) -> None:
    (row,) = await queued(store, 1)
    now = utc_now()
    await store.claim_actions(ROUTE, Lease("a", now + LEASE), now, 1)
    await store.update_action(row.id, ActionStatus.RUNNING, now, holder="a")
    assert not await store.release_action(row.id, "b")  # not b's to give back
    assert await store.release_action(row.id, "a")
    assert not await store.update_action(row.id, ActionStatus.SUCCEEDED, now, holder="a")
    (claim,) = await store.claim_actions(ROUTE, Lease("b", now + LEASE), now, 1)
    assert claim.action.id == row.id and claim.action.status is ActionStatus.RUNNING
    assert not claim.reclaimed  # handed back, not expired
    streamed = action()
    await store.add_action(streamed, Lease("a", now + LEASE))
    assert not await store.release_action(streamed.id, "a")  # nobody could re-run it


async def test_a_claim_names_the_input_bytes_even_after_its_asset_was_deleted(
    store: Store,
) -> None:
    stored = asset(sha="b" * 64)
    assert await store.add_asset(stored)
    row = action(input_asset_id=stored.id)
    await store.add_action(row, background=True)
    assert await store.delete_asset("alice", stored.id) is not None
    now = utc_now()
    (claim,) = await store.claim_actions(ROUTE, Lease("a", now + LEASE), now, 1)
    assert claim.input_sha256 == "b" * 64
    assert await store.content_references("b" * 64) == 1  # the action still pins them
