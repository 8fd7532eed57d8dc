"""A fixed pool of worker processes driven from the asyncio event loop.

Each worker owns one pipe and runs one job at a time. A job whose caller goes away
(client cancelled, deadline passed) kills its worker, so no CPU is spent on a result
nobody reads; a worker that dies takes only its own request down, and one that dies idle
is noticed at once (its process sentinel) and never handed a request. Either way the pool
starts a replacement in the background.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import time
from collections.abc import Awaitable, Callable
from enum import StrEnum
from multiprocessing.connection import Connection
from multiprocessing.context import SpawnProcess

from pixpress_server.errors import PixpressServerError, WorkerUnavailable
from pixpress_server.processing.model import (
    DEFAULT_THREADS_PER_WORKER,
    CompressOutcome,
    ImageHeader,
)
from pixpress_server.workers import child
from pixpress_server.workers.jobs import CompressJob, Job, ProbeJob

logger = logging.getLogger(__name__)

# Workers are started with spawn, never fork: forking a process that runs gRPC's
# threads and an event loop is unsafe.
_CONTEXT = multiprocessing.get_context("spawn")
_START_TIMEOUT = 120.0


class RestartReason(StrEnum):
    """Why a worker was replaced."""

    CRASHED = "crashed"  # died during a job
    EXITED_IDLE = "exited_idle"  # died while waiting for a job
    ABANDONED = "abandoned"  # killed: its job's caller went away, its result would be dropped


class _WorkerDied(Exception):
    pass


async def _receive(connection: Connection) -> object:
    """Wait until the pipe is readable without blocking the loop, then read one message."""
    loop = asyncio.get_running_loop()
    readable: asyncio.Future[None] = loop.create_future()
    descriptor = connection.fileno()

    def on_readable() -> None:
        if not readable.done():
            readable.set_result(None)

    loop.add_reader(descriptor, on_readable)
    try:
        await readable
    finally:
        loop.remove_reader(descriptor)
    try:
        # Replies are small (paths and numbers), so a readable pipe holds the whole message.
        return connection.recv()
    except (EOFError, OSError) as error:
        raise _WorkerDied(str(error)) from None


class _Worker:
    def __init__(self, log_level: str, threads: int) -> None:
        self.connection, child_end = _CONTEXT.Pipe()
        self.process: SpawnProcess = _CONTEXT.Process(
            target=child.serve,
            args=(child_end, log_level, threads),
            daemon=True,
            name="pixpress-worker",
        )
        self.process.start()
        child_end.close()
        self.started = time.monotonic()
        self.busy = False
        self.retired = False  # replaced (dead or killed): never dispatch to it again

    @property
    def pid(self) -> int | None:
        return self.process.pid

    @property
    def sentinel(self) -> int:
        """A descriptor that becomes readable when the process ends."""
        return self.process.sentinel

    async def wait_ready(self) -> None:
        message = await asyncio.wait_for(_receive(self.connection), _START_TIMEOUT)
        if message != child.READY:
            raise _WorkerDied(f"unexpected first message {message!r}")

    async def call(self, job: Job) -> object:
        try:
            self.connection.send(job)
        except (BrokenPipeError, OSError) as error:
            raise _WorkerDied(str(error)) from None
        reply = await _receive(self.connection)
        assert isinstance(reply, tuple)
        ok, value = reply
        if ok:
            return value
        assert isinstance(value, PixpressServerError)
        raise value

    def kill(self) -> None:
        """SIGKILL the process; reap it later with `join` (off the event loop)."""
        if self.process.is_alive():
            self.process.kill()
        self.connection.close()

    async def join(self) -> None:
        await asyncio.to_thread(self.process.join, 5)


class WorkerPool:
    """`size` worker processes; `probe` and `compress` wait for a free one."""

    def __init__(
        self, size: int, log_level: str = "INFO", threads: int = DEFAULT_THREADS_PER_WORKER
    ) -> None:
        self._threads = threads
        self._size = size
        self._log_level = log_level
        self._idle: asyncio.Queue[_Worker] = asyncio.Queue()
        self._workers: set[_Worker] = set()
        self._live: set[_Worker] = set()  # ready and not retired, idle or busy
        self._listeners: list[Callable[[], None]] = []
        self._restart_listeners: list[Callable[[RestartReason], None]] = []
        self._background: set[asyncio.Task[None]] = set()
        self._closed = False

    @property
    def live_workers(self) -> int:
        """Workers able to take a job now or after their current one (starting ones excluded)."""
        return len(self._live)

    def on_change(self, listener: Callable[[], None]) -> None:
        """Call `listener` (on the event loop) whenever `live_workers` changes."""
        self._listeners.append(listener)

    def on_restart(self, listener: Callable[[RestartReason], None]) -> None:
        """Call `listener` (on the event loop) whenever a worker is replaced, with why."""
        self._restart_listeners.append(listener)

    async def start(self) -> None:
        """Start every worker and wait until each has initialised libvips."""
        workers = [self._spawn() for _ in range(self._size)]
        await asyncio.gather(*(w.wait_ready() for w in workers))
        for worker in workers:
            self._enlist(worker)

    async def probe(self, job: ProbeJob) -> ImageHeader:
        header = await self._run(job)
        assert isinstance(header, ImageHeader)
        return header

    async def compress(
        self, job: CompressJob, on_start: Callable[[], Awaitable[None]] | None = None
    ) -> CompressOutcome:
        """Compress in a worker; `on_start` runs once a worker has been given the job."""
        outcome = await self._run(job, on_start)
        assert isinstance(outcome, CompressOutcome)
        return outcome

    async def close(self) -> None:
        self._closed = True
        loop = asyncio.get_running_loop()
        for worker in list(self._live):
            loop.remove_reader(worker.sentinel)
        for task in list(self._background):
            task.cancel()
        for worker in list(self._workers):
            with contextlib.suppress(Exception):
                worker.connection.close()  # EOF tells an idle worker to exit
        for worker in list(self._workers):
            await worker.join()
            worker.kill()
            await worker.join()
        self._workers.clear()

    def _spawn(self) -> _Worker:
        worker = _Worker(self._log_level, self._threads)
        self._workers.add(worker)
        return worker

    def _enlist(self, worker: _Worker) -> None:
        """A ready worker joins the idle queue, watched for an exit while it waits."""
        asyncio.get_running_loop().add_reader(worker.sentinel, self._exited_while_idle, worker)
        self._live.add(worker)
        self._idle.put_nowait(worker)
        self._changed()

    def _changed(self) -> None:
        for listener in self._listeners:
            listener()

    def _exited_while_idle(self, worker: _Worker) -> None:
        if worker.busy or worker.retired:
            # A busy worker's call sees the closed pipe itself and replaces it; stop watching.
            asyncio.get_running_loop().remove_reader(worker.sentinel)
            return
        logger.error("worker %s exited while idle (code %s)", worker.pid, worker.process.exitcode)
        self._replace(worker, RestartReason.EXITED_IDLE)

    async def _take_idle(self) -> _Worker:
        """The next idle worker that is still alive (dead ones are replaced, never used)."""
        while True:
            worker = await self._idle.get()
            if worker.retired:
                continue
            # The sentinel callback may not have run yet for a worker that died just now.
            if not worker.process.is_alive():
                self._exited_while_idle(worker)
                continue
            worker.busy = True
            return worker

    async def _run(self, job: Job, on_start: Callable[[], Awaitable[None]] | None = None) -> object:
        worker = await self._take_idle()
        try:
            if on_start is not None:
                await on_start()
            result = await worker.call(job)
        except PixpressServerError:
            self._release(worker)
            raise
        except _WorkerDied as error:
            logger.error("worker %s died during a request: %s", worker.pid, error)
            self._replace(worker, RestartReason.CRASHED)
            raise WorkerUnavailable("the worker process died; retry the request") from None
        except BaseException:
            # Cancelled or timed out while the worker is busy: its result would be dropped,
            # so stop the CPU work now rather than finishing it.
            self._replace(worker, RestartReason.ABANDONED)
            raise
        self._release(worker)
        return result

    def _release(self, worker: _Worker) -> None:
        worker.busy = False
        self._idle.put_nowait(worker)

    def _replace(self, worker: _Worker, reason: RestartReason) -> None:
        if worker.retired:
            return
        worker.retired = True
        for listener in self._restart_listeners:
            listener(reason)
        if worker in self._live:
            asyncio.get_running_loop().remove_reader(worker.sentinel)
            self._live.discard(worker)
            self._changed()
        self._workers.discard(worker)
        worker.kill()
        if self._closed:
            return
        task = asyncio.get_running_loop().create_task(self._start_replacement(worker))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _start_replacement(self, dead: _Worker) -> None:
        await dead.join()
        delay = 0.5
        while not self._closed:
            worker = self._spawn()
            try:
                await worker.wait_ready()
            except (_WorkerDied, TimeoutError) as error:
                logger.error("replacement worker failed to start: %s", error)
                self._workers.discard(worker)
                worker.kill()
                await worker.join()
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)
                continue
            self._enlist(worker)
            return
