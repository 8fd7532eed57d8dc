"""Bounds and fairness of the work queue on both stores: owners take turns in the claims, and
one owner's unfinished background actions are capped at insert, atomically."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from pixpress_server.store.base import Store
from pixpress_server.store.records import ActionRecord, ActionStatus, Lease, utc_now

from tests.unit.test_content_store import ROUTE, action, finish
from tests.unit.test_store_contract import OTHER_ROUTE

LEASE = timedelta(seconds=30)


async def queue(
    store: Store, owner: str, count: int, start_ms: int, route_id: str = ROUTE
) -> list[ActionRecord]:
    """`count` background actions of `owner`, a millisecond apart from `start_ms` on an
    hour-old clock (oldest first)."""
    start = utc_now() - timedelta(hours=1) + timedelta(milliseconds=start_ms)
    rows = [
        action(owner=owner, created=start + timedelta(milliseconds=n), route_id=route_id)
        for n in range(count)
    ]
    for row in rows:
        assert await store.add_action(row, background=True)
    return rows


async def test_claimed_one_at_a_time_owners_take_turns(store: Store) -> None:
    a = await queue(store, "alice", 20, start_ms=0)
    b = await queue(store, "bob", 2, start_ms=100)  # behind all of alice's
    now = utc_now()
    claimed = []
    for n in range(6):  # six replicas' slots, each holding what it claimed
        (claim,) = await store.claim_actions(ROUTE, Lease(f"r{n}", now + LEASE), now, 1)
        claimed.append(claim.action.id)
    # Oldest first would give alice's first six; bob's two wait behind her backlog.
    assert claimed == [a[0].id, b[0].id, a[1].id, b[1].id, a[2].id, a[3].id]


async def test_one_slot_alternates_owners_as_each_action_finishes(store: Store) -> None:
    a = await queue(store, "alice", 20, start_ms=0)
    b = await queue(store, "bob", 2, start_ms=100)
    ran = []
    for _ in range(6):  # one replica with one slot: nothing held when it claims again
        now = utc_now()
        (claim,) = await store.claim_actions(ROUTE, Lease("r", now + LEASE), now, 1)
        assert await store.update_action(claim.action.id, ActionStatus.RUNNING, now, holder="r")
        done = now + timedelta(milliseconds=1)
        assert await store.update_action(claim.action.id, ActionStatus.SUCCEEDED, done, holder="r")
        ran.append(claim.action.id)
        await asyncio.sleep(0.002)  # the next start is later
    # At equal turns, the owner served longest ago goes first.
    assert ran == [a[0].id, b[0].id, a[1].id, b[1].id, a[2].id, a[3].id]


async def test_one_claim_of_several_interleaves_owners_by_their_oldest(store: Store) -> None:
    a = await queue(store, "alice", 20, start_ms=0)
    b = await queue(store, "bob", 2, start_ms=100)
    c = await queue(store, "carol", 1, start_ms=200)
    await queue(store, "dave", 5, start_ms=0, route_id=OTHER_ROUTE)  # another route's queue
    now = utc_now()
    claims = await store.claim_actions(ROUTE, Lease("r", now + LEASE), now, 6)
    assert [claim.action.id for claim in claims] == [
        a[0].id,
        b[0].id,
        c[0].id,
        a[1].id,
        b[1].id,
        a[2].id,
    ]


async def test_an_owners_turn_counts_what_it_holds_but_not_expired_leases(store: Store) -> None:
    a = await queue(store, "alice", 5, start_ms=0)
    b = await queue(store, "bob", 3, start_ms=100)
    now = utc_now()
    # Another replica holds two of alice's: bob's first two come before her third.
    await store.claim_actions(ROUTE, Lease("x", now + LEASE), now, 1)
    taken = await store.claim_actions(ROUTE, Lease("y", now + LEASE), now, 3)
    assert [claim.action.id for claim in taken] == [b[0].id, a[1].id, b[1].id]
    # Once x's lease expired, alice's first is claimable again and no longer held: with one
    # held by y it has turn 2, bob's third turn 3 (he holds two), alice's third turn 3 too.
    later = now + 2 * LEASE
    await store.renew_leases(Lease("y", later + LEASE))
    again = await store.claim_actions(ROUTE, Lease("z", later + LEASE), later, 3)
    assert [claim.action.id for claim in again] == [a[0].id, a[2].id, b[2].id]
    assert again[0].reclaimed and not again[1].reclaimed


async def test_fair_claims_at_once_never_share_an_action(store: Store) -> None:
    for _ in range(3):  # the rounds make an overlap of the claims near certain
        rows = [
            *await queue(store, "alice", 150, start_ms=0),
            *await queue(store, "bob", 30, start_ms=500),
            *await queue(store, "carol", 20, start_ms=900),
        ]
        now = utc_now()
        batches = await asyncio.gather(
            *(store.claim_actions(ROUTE, Lease(f"r{n}", now + LEASE), now, 25) for n in range(10))
        )
        claimed = [claim.action.id for batch in batches for claim in batch]
        assert sorted(claimed) == sorted(row.id for row in rows)  # each once, none left
        for row in rows:  # out of the next round's turns
            await finish(store, row.id)


async def test_the_pending_bound_counts_the_owners_unfinished_background_actions(
    store: Store,
) -> None:
    rows = [action() for _ in range(4)]
    assert all(
        [await store.add_action(row, background=True, max_owner_pending=3) for row in rows[:3]]
    )
    assert not await store.add_action(rows[3], background=True, max_owner_pending=3)
    assert await store.get_action("alice", rows[3].id) is None  # nothing recorded
    assert await store.add_action(action(owner="bob"), background=True, max_owner_pending=3)
    # Streamed work (held, not background) is bounded by queue slots, not by this.
    now = utc_now()
    assert await store.add_action(action(), Lease("a", now + LEASE))
    # A claimed (running) action still counts; a finished one frees its place.
    await store.claim_actions(ROUTE, Lease("a", now + LEASE), now, 1)
    assert await store.update_action(rows[0].id, ActionStatus.RUNNING, now, holder="a")
    assert not await store.add_action(rows[3], background=True, max_owner_pending=3)
    await finish(store, rows[1].id)
    assert await store.add_action(rows[3], background=True, max_owner_pending=3)
    assert not await store.add_action(action(), background=True, max_owner_pending=3)
    assert await store.add_action(action(), background=True)  # no bound given


async def test_concurrent_inserts_never_pass_the_pending_bound(store: Store) -> None:
    for bound in (7, 19):  # a few rounds on one owner, then another bound on a new one
        owner = f"owner{bound}"
        added = await asyncio.gather(
            *(
                store.add_action(action(owner=owner), background=True, max_owner_pending=bound)
                for _ in range(60)
            )
        )
        assert added.count(True) == bound
        pending = await store.list_actions(owner, 100, status=ActionStatus.QUEUED)
        assert len(pending) == bound
