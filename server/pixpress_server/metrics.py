"""Prometheus metrics of one replica, in a registry of its own: what both edges served, what
the compressions did, admission and worker state, and the actions this replica ended."""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, ProcessCollector

from pixpress_server.store.records import ActionStatus
from pixpress_server.workers.pool import RestartReason

if TYPE_CHECKING:
    from pixpress_server.admission import MemoryBudget, RequestQueue
    from pixpress_server.claims import ClaimLoop
    from pixpress_server.processing.model import CompressOutcome
    from pixpress_server.workers.pool import WorkerPool

# Seconds, from a cached small image's milliseconds to a 200-megapixel AVIF's minutes.
SECONDS_BUCKETS = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
    120.0,
    300.0,
)


class EdgeName(StrEnum):
    GRPC = "grpc"
    HTTP = "http"


class Metrics:
    """Every metric of the replica; `registry` is what /metrics serves."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)
        registry = self.registry
        self._requests = Counter(
            "pixpress_requests",
            "Requests answered, by edge, call (gRPC method or HTTP method and route template) "
            "and gRPC status name (HTTP problems carry theirs in `code`)",
            ["edge", "call", "code"],
            registry=registry,
        )
        self._request_seconds = Histogram(
            "pixpress_request_duration_seconds",
            "Time from a request's arrival to its last response byte",
            ["edge", "call"],
            buckets=SECONDS_BUCKETS,
            registry=registry,
        )
        self._bytes_in = Counter(
            "pixpress_input_bytes",
            "Bytes of the images compressed, by format",
            ["format"],
            registry=registry,
        )
        self._bytes_out = Counter(
            "pixpress_output_bytes",
            "Bytes of the compressed outputs (the input's when it was kept), by format",
            ["format"],
            registry=registry,
        )
        self._compressions = Counter(
            "pixpress_compressions",
            "Compressions done, by format and whether the original was kept",
            ["format", "kept_original"],
            registry=registry,
        )
        self._stage_seconds = Histogram(
            "pixpress_stage_duration_seconds",
            "Time of each pipeline stage of a compression (decode, encode, postpass, ...)",
            ["stage", "format"],
            buckets=SECONDS_BUCKETS,
            registry=registry,
        )
        self._worker_restarts = Counter(
            "pixpress_worker_restarts",
            "Worker processes replaced: crashed during a job, exited while idle, or killed "
            "because the job's caller went away",
            ["reason"],
            registry=registry,
        )
        self._actions = Counter(
            "pixpress_actions_ended",
            "Actions this replica moved to a terminal status, by that status",
            ["status"],
            registry=registry,
        )
        # Leases of background work claimed from the store's queue (claims.py).
        self._leases_taken = Counter(
            "pixpress_leases_taken",
            "Leases on background actions this replica claimed",
            registry=registry,
        )
        self._leases_expired = Counter(
            "pixpress_leases_expired",
            "Leases of other replicas this replica found expired and claimed again",
            registry=registry,
        )
        # No sample until the store was read once: an unread depth is not a depth of 0.
        self._background = Gauge(
            "pixpress_background_actions",
            "Unfinished background actions of this server's route in the store, every "
            "replica's and not only this one's, by state (queued: not started yet); read "
            "from the store every few seconds",
            ["state"],
            registry=registry,
        )
        for reason in RestartReason:
            self._worker_restarts.labels(reason=reason)
        for status in ActionStatus:
            if status.is_terminal:
                self._actions.labels(status=status)

    def request(self, edge: EdgeName, call: str, code: str, seconds: float) -> None:
        """One request answered with gRPC status `code` after `seconds`."""
        self._requests.labels(edge=edge, call=call, code=code).inc()
        self._request_seconds.labels(edge=edge, call=call).observe(seconds)

    def compressed(self, outcome: CompressOutcome) -> None:
        image_format = str(outcome.header.format)
        self._bytes_in.labels(format=image_format).inc(outcome.input_size)
        self._bytes_out.labels(format=image_format).inc(outcome.output_size)
        kept = "true" if outcome.kept_original else "false"
        self._compressions.labels(format=image_format, kept_original=kept).inc()
        for stage in outcome.stages:
            self._stage_seconds.labels(stage=stage.name, format=image_format).observe(
                stage.milliseconds / 1000
            )

    def worker_restarted(self, reason: RestartReason) -> None:
        self._worker_restarts.labels(reason=reason).inc()

    def action_ended(self, status: ActionStatus) -> None:
        self._actions.labels(status=status).inc()

    def lease_taken(self) -> None:
        self._leases_taken.inc()

    def lease_expired(self) -> None:
        self._leases_expired.inc()

    def background_depth(self, queued: int, running: int) -> None:
        """The store-wide depth of the route's background queue, as last read."""
        self._background.labels(state="queued").set(queued)
        self._background.labels(state="running").set(running)

    def watch_claims(self, claims: ClaimLoop) -> None:
        """Gauges read at each scrape from this replica's claim loop."""
        self._read_at_scrape(
            (
                "pixpress_background_slots_used",
                "Background actions this replica is running (its claims in flight)",
                lambda: claims.in_flight,
            ),
            (
                "pixpress_background_slots",
                "Background actions this replica runs at once (--background-slots)",
                lambda: claims.capacity,
            ),
        )

    def watch(self, queue: RequestQueue, budget: MemoryBudget, pool: WorkerPool) -> None:
        """Gauges read at each scrape from the admission state and the worker pool."""
        self._read_at_scrape(
            ("pixpress_queue_slots_used", "Requests holding a queue slot", lambda: queue.in_use),
            ("pixpress_queue_slots", "Queue slots (--max-queue)", lambda: queue.capacity),
            (
                "pixpress_memory_budget_used_bytes",
                "Estimated worker memory reserved by requests",
                lambda: budget.used,
            ),
            (
                "pixpress_memory_budget_bytes",
                "The memory budget (--memory-budget)",
                lambda: budget.total,
            ),
            (
                "pixpress_memory_budget_waiting",
                "Requests waiting for room in the memory budget",
                lambda: budget.waiting,
            ),
            (
                "pixpress_workers_live",
                "Worker processes ready for a job",
                lambda: pool.live_workers,
            ),
        )

    def _read_at_scrape(self, *gauges: tuple[str, str, Callable[[], float]]) -> None:
        """Gauges (name, description, read) whose value `read` gives at each scrape."""
        for name, description, read in gauges:
            Gauge(name, description, registry=self.registry).set_function(read)
