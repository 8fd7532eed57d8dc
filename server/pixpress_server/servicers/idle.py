"""Idle timeouts for streams: a client that sends or takes nothing for --stream-idle-timeout
seconds loses its call, and the slot, files and action it held are released at once."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, AsyncIterable, Awaitable
from typing import TYPE_CHECKING, TypeVar

from pixpress_server.errors import PixpressServerError, StatusName

if TYPE_CHECKING:
    import grpc

logger = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")


class StreamIdle(PixpressServerError):
    """DEADLINE_EXCEEDED: the client made no progress on a stream for the idle time."""

    status = StatusName.DEADLINE_EXCEEDED


def idle_error(seconds: float, what: str) -> StreamIdle:
    """The error of a client that `what` ("sent nothing", "read nothing") for `seconds`."""
    return StreamIdle(
        f"the client {what} for {seconds:g} s: the call was ended (--stream-idle-timeout)"
    )


async def idle_checked(messages: AsyncIterable[T], seconds: float) -> AsyncGenerator[T, None]:
    """The items of `messages` (gRPC requests, HTTP body chunks); StreamIdle when the next one
    takes longer than `seconds`."""
    iterator = aiter(messages)
    while True:
        try:
            async with asyncio.timeout(seconds):
                message = await anext(iterator)
        except StopAsyncIteration:
            return
        except TimeoutError:
            raise idle_error(seconds, "sent nothing") from None
        yield message


class IdleStreams:
    """Per server: applies the idle timeout to request and response streams, and knows
    whether any response stream is still doing work (for the shutdown)."""

    def __init__(self, seconds: float) -> None:
        self._seconds = seconds
        self._live = 0
        self._settled = asyncio.Event()
        self._settled.set()
        self._abandoning: set[asyncio.Task[None]] = set()

    def requests(self, requests: AsyncIterable[T]) -> AsyncGenerator[T, None]:
        """The messages of `requests`; StreamIdle when the next one takes too long."""
        return idle_checked(requests, self._seconds)

    async def responses(self, responses: AsyncGenerator[R, None]) -> AsyncGenerator[R, None]:
        """Yield what `responses` yields, for a servicer to yield on.

        grpc.aio suspends a handler at its `yield` while the client's flow-control window
        is full, and a client that stops reading keeps it there. When a response isn't
        taken within the idle time, `responses` is abandoned: StreamIdle is thrown into it
        at once, so its own cleanup runs and records why. The call stays open until the
        client reads again (it then gets DEADLINE_EXCEEDED) or the server stops.
        """
        loop = asyncio.get_running_loop()
        abandoned: list[asyncio.Task[None]] = []

        def abandon() -> None:
            task = loop.create_task(self._abandon(responses))
            self._abandoning.add(task)
            task.add_done_callback(self._abandoning.discard)
            abandoned.append(task)

        self._enter()
        try:
            async for response in responses:
                timer = loop.call_later(self._seconds, abandon)
                try:
                    yield response
                finally:
                    timer.cancel()
                if abandoned:
                    break
        finally:
            if abandoned:
                await abandoned[0]
            else:
                await responses.aclose()
                self._leave()
        if abandoned:
            raise self._error("read nothing")

    async def settled(self) -> None:
        """Until no response stream is doing work (those abandoned don't count)."""
        await self._settled.wait()

    async def _abandon(self, responses: AsyncGenerator[R, None]) -> None:
        try:
            await responses.athrow(self._error("read nothing"))
        except StreamIdle:
            pass
        except BaseException:
            logger.exception("cleanup of an abandoned response stream failed")
        else:  # it swallowed the error and yielded again: close it
            await responses.aclose()
        finally:
            self._leave()

    def _error(self, what: str) -> StreamIdle:
        return idle_error(self._seconds, what)

    def _enter(self) -> None:
        self._live += 1
        self._settled.clear()

    def _leave(self) -> None:
        self._live -= 1
        if not self._live:
            self._settled.set()


async def stop_server(server: grpc.aio.Server, grace: float, *in_flight: Awaitable[object]) -> None:
    """Stop taking calls, and give the work `in_flight` up to `grace` seconds to finish.

    grpc waits for every open call, including one whose handler has ended but whose client
    stopped reading (its last message can't be sent). Once `in_flight` is done, the calls
    still open are of that kind: they are cancelled then, not after the whole grace.
    """
    stopping = asyncio.ensure_future(server.stop(grace))
    work = asyncio.gather(*in_flight, return_exceptions=True)
    await asyncio.wait([work], timeout=grace)
    await server.stop(0)
    await stopping
    await asyncio.wait([work], timeout=grace)
    if not work.done():
        work.cancel()
        logger.warning("in-flight work did not finish after the server stopped")
