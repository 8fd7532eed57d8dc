"""The loop a worker process runs: receive a job, run it, send back a result or an error."""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import signal
import traceback
from multiprocessing.connection import Connection

from pixpress_server.errors import InternalFailure, PixpressServerError
from pixpress_server.workers.jobs import CompressJob, Job, ProbeJob

READY = "ready"
_PR_SET_PDEATHSIG = 1


def run_job(job: Job) -> object:
    from pixpress_server.processing import pipeline

    match job:
        case ProbeJob(source, limits):
            return pipeline.probe(source, limits)
        case CompressJob(source, destination, options, limits):
            outcome = pipeline.compress(source, destination, options, limits)
            if outcome.header.pixels * outcome.header.frames >= _TRIM_AFTER_PIXELS:
                _release_free_memory()
            return outcome


# glibc keeps much of what a big image freed (its mmap threshold grows with use), while
# admission counts an idle worker at its idle size: hand the free memory back after big
# images. Measured after a 25 MP PNG: 148-180 MiB held without, about 100 MiB with, 48 idle.
# (MALLOC_TRIM_THRESHOLD_=0 gets to 50 MiB but made big encodes 15-25% slower.)
_TRIM_AFTER_PIXELS = 4_000_000


def _release_free_memory() -> None:
    libc = _libc()
    if libc is not None and hasattr(libc, "malloc_trim"):
        libc.malloc_trim(0)


def _libc() -> ctypes.CDLL | None:
    try:
        return ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    except OSError:
        return None


def _die_with_parent() -> None:
    """On Linux, have the kernel kill this worker if the server process dies (even by SIGKILL)."""
    libc = _libc()
    if libc is not None and hasattr(libc, "prctl"):
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    # elsewhere the worker exits when its pipe closes instead


def serve(connection: Connection, log_level: str, threads: int) -> None:
    """Entry point of a worker process (started with the spawn method)."""
    # The parent decides when workers stop: a Ctrl-C in the terminal must not kill
    # them before in-flight requests have drained.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _die_with_parent()
    logging.basicConfig(level=log_level, format="%(asctime)s %(levelname)s worker %(message)s")
    from pixpress_server.processing import pipeline

    pipeline.initialise(threads)
    connection.send(READY)
    while True:
        try:
            job: Job = connection.recv()
        except EOFError:
            return
        reply: tuple[bool, object]
        try:
            reply = (True, run_job(job))
        except PixpressServerError as error:
            reply = (False, error)
        except Exception:  # a bug: report it as INTERNAL and keep the worker alive
            reply = (False, InternalFailure("internal error", traceback.format_exc()))
        connection.send(reply)
