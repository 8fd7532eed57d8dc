"""The loop a worker process runs: receive a job, run it, send back a result or an error."""

from __future__ import annotations

import logging
import signal
import traceback
from multiprocessing.connection import Connection

from pixpress_server.errors import InternalFailure, PixpressServerError
from pixpress_server.workers.jobs import CompressJob, Job, ProbeJob

READY = "ready"


def run_job(job: Job) -> object:
    from pixpress_server.processing import pipeline

    match job:
        case ProbeJob(source, limits):
            return pipeline.probe(source, limits)
        case CompressJob(source, destination, options, limits):
            return pipeline.compress(source, destination, options, limits)


def serve(connection: Connection, log_level: str) -> None:
    """Entry point of a worker process (started with the spawn method)."""
    # The parent decides when workers stop: a Ctrl-C in the terminal must not kill
    # them before in-flight requests have drained.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    logging.basicConfig(level=log_level, format="%(asctime)s %(levelname)s worker %(message)s")
    from pixpress_server.processing import pipeline

    pipeline.initialise()
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
