"""Admission: the bounded queue fails fast (per owner too); the memory budget waits in order."""

from __future__ import annotations

import asyncio

import pytest
from pixpress_server.admission import MemoryBudget, RequestQueue
from pixpress_server.errors import TooLarge

MIB = 1024 * 1024


def test_queue_refuses_past_capacity_and_frees_slots() -> None:
    queue = RequestQueue(2, per_owner=2)
    with (
        queue.slot("a"),
        queue.slot("b"),
        pytest.raises(TooLarge, match="--max-queue") as refused,
        queue.slot("c"),
    ):
        pass
    assert refused.value.retry_after is not None and refused.value.retry_after > 0
    with queue.slot("a"), queue.slot("a"):  # both slots came back
        pass


def test_one_owner_cannot_take_every_slot() -> None:
    queue = RequestQueue(4, per_owner=2)
    with queue.slot("a"), queue.slot("a"):
        refused = pytest.raises(TooLarge, match=r"'a' already has 2 .* \(--max-slots-per-owner\)")
        with refused, queue.slot("a"):
            pass
        with queue.slot("b"), queue.slot("b"):  # another owner still gets the rest
            pass
    with queue.slot("a"), queue.slot("a"):  # a's slots came back
        pass


async def test_drained_waits_until_no_slot_is_held() -> None:
    queue = RequestQueue(2, per_owner=1)
    await asyncio.wait_for(queue.drained(), 1)  # nothing held: at once
    with queue.slot("a"):
        waiting = asyncio.ensure_future(queue.drained())
        await asyncio.sleep(0.01)
        assert not waiting.done()
    await asyncio.wait_for(waiting, 5)


async def test_request_above_the_whole_budget_is_refused() -> None:
    budget = MemoryBudget(100 * MIB)
    with pytest.raises(TooLarge, match=r"101 MiB .* 100 MiB \(--memory-budget\)"):
        async with budget.reserve(101 * MIB):
            pass


async def test_requests_wait_for_room_in_arrival_order() -> None:
    budget = MemoryBudget(100 * MIB)
    order: list[str] = []
    release_big = asyncio.Event()

    async def hold(name: str, amount: int, until: asyncio.Event | None = None) -> None:
        async with budget.reserve(amount):
            order.append(name)
            if until is not None:
                await until.wait()

    first = asyncio.create_task(hold("first 80", 80 * MIB, release_big))
    await asyncio.sleep(0)
    big = asyncio.create_task(hold("big 60", 60 * MIB))
    await asyncio.sleep(0)
    small = asyncio.create_task(hold("small 10", 10 * MIB))  # would fit, but waits its turn
    await asyncio.sleep(0.01)
    assert order == ["first 80"]
    release_big.set()
    await asyncio.gather(first, big, small)
    assert order == ["first 80", "big 60", "small 10"]


async def test_a_cancelled_waiter_gives_its_turn_away() -> None:
    budget = MemoryBudget(100 * MIB)
    hold = asyncio.Event()
    done: list[str] = []

    async def holder() -> None:
        async with budget.reserve(90 * MIB):
            await hold.wait()

    async def waiter(name: str, amount: int) -> None:
        async with budget.reserve(amount):
            done.append(name)

    holding = asyncio.create_task(holder())
    await asyncio.sleep(0)
    cancelled = asyncio.create_task(waiter("cancelled", 50 * MIB))
    behind = asyncio.create_task(waiter("behind", 50 * MIB))
    await asyncio.sleep(0.01)
    cancelled.cancel()
    hold.set()
    await asyncio.gather(holding, behind)
    assert done == ["behind"]
    # everything was given back: the whole budget can be reserved again
    async with budget.reserve(100 * MIB):
        pass
