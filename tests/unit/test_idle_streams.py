"""Idle timeouts on plain async streams: a silent sender, a reader that stops taking."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator

import pytest
from pixpress_server.servicers.idle import IdleStreams, StreamIdle

IDLE = 0.2


async def silent_after(count: int) -> AsyncIterator[int]:
    for number in range(count):
        yield number
    await asyncio.sleep(3600)  # the client stops sending
    yield count


async def test_requests_pass_through_then_a_silent_sender_is_ended() -> None:
    received = []
    with pytest.raises(StreamIdle, match=r"sent nothing for 0.2 s.*--stream-idle-timeout"):
        async with asyncio.timeout(30):
            async for number in IdleStreams(IDLE).requests(silent_after(3)):
                received.append(number)
    assert received == [0, 1, 2]


async def test_requests_that_end_end_the_stream() -> None:
    async def three() -> AsyncIterator[int]:
        for number in range(3):
            yield number

    assert [n async for n in IdleStreams(IDLE).requests(three())] == [0, 1, 2]


class Producer:
    """A response stream that records how it ended."""

    def __init__(self) -> None:
        self.ended: BaseException | None = None
        self.closed = asyncio.Event()

    async def responses(self) -> AsyncGenerator[int, None]:
        try:
            for number in range(10):
                yield number
        except BaseException as error:
            self.ended = error
            raise
        finally:
            self.closed.set()


async def test_a_reader_that_stops_taking_abandons_the_stream_at_once() -> None:
    streams = IdleStreams(IDLE)
    producer = Producer()
    paced = aiter(streams.responses(producer.responses()))
    assert await anext(paced) == 0
    settled = asyncio.ensure_future(streams.settled())
    await asyncio.sleep(0.01)
    assert not settled.done()  # a live response stream
    # The reader takes nothing more: the producer's cleanup runs without it.
    await asyncio.wait_for(producer.closed.wait(), 10)
    assert isinstance(producer.ended, StreamIdle)
    await asyncio.wait_for(settled, 10)
    # A reader that comes back gets the error, not the rest.
    with pytest.raises(StreamIdle, match="read nothing"):
        await anext(paced)


async def test_a_reader_that_keeps_taking_gets_everything() -> None:
    streams = IdleStreams(IDLE)
    producer = Producer()
    taken = []
    async for number in streams.responses(producer.responses()):
        taken.append(number)
        await asyncio.sleep(IDLE / 4)
    assert taken == list(range(10)) and producer.ended is None
    await asyncio.wait_for(streams.settled(), 1)


async def test_a_reader_that_leaves_closes_the_stream() -> None:
    streams = IdleStreams(IDLE)
    producer = Producer()
    paced = streams.responses(producer.responses())
    assert await anext(paced) == 0
    await paced.aclose()  # grpc closes the handler when the client cancels
    assert isinstance(producer.ended, GeneratorExit)
    await asyncio.wait_for(streams.settled(), 1)
