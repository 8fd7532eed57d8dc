"""The background queue's depth on both stores: the route's unfinished background actions,
queued (claimed but not started too) apart from running; finished, streamed and other
routes' actions never count."""

from __future__ import annotations

from datetime import timedelta

from pixpress_server.store.base import Store
from pixpress_server.store.records import ActionStatus, Lease, utc_now

from tests.unit.test_content_store import ROUTE, action, finish
from tests.unit.test_store_contract import OTHER_ROUTE
from tests.unit.test_store_leases import queued

LEASE = timedelta(seconds=30)


async def test_an_empty_queue_counts_nothing(store: Store) -> None:
    assert await store.count_background(ROUTE) == (0, 0)


async def test_queued_and_running_background_actions_are_counted_apart(store: Store) -> None:
    rows = await queued(store, 6)
    await queued(store, 2, route_id=OTHER_ROUTE)
    streamed = action()
    await store.add_action(streamed, Lease("streaming", utc_now() + LEASE))  # not background
    await store.update_action(streamed.id, ActionStatus.RUNNING, utc_now(), holder="streaming")
    assert await store.count_background(ROUTE) == (6, 0)

    now = utc_now()
    claims = await store.claim_actions(ROUTE, Lease("a", now + LEASE), now, 3)
    assert len(claims) == 3
    assert await store.count_background(ROUTE) == (6, 0)  # claimed, not started: queued
    for claim in claims[:2]:
        assert await store.update_action(claim.action.id, ActionStatus.RUNNING, now, holder="a")
    assert await store.count_background(ROUTE) == (4, 2)

    assert await store.update_action(claims[0].action.id, ActionStatus.SUCCEEDED, now, holder="a")
    await finish(store, rows[5].id)  # cancelled while queued, never claimed
    assert await store.count_background(ROUTE) == (3, 1)
    assert await store.count_background(OTHER_ROUTE) == (2, 0)
