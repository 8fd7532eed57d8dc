"""The background queue's depth in the metrics: read from a real store on a timer, one read
per interval however often it is scraped, the last value kept while the store fails, and
one warning per outage."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest
from pixpress_server.metrics import Metrics
from pixpress_server.queue_depth import QueueDepth
from pixpress_server.store.records import ActionStatus, Lease, utc_now
from pixpress_server.store.sqlite import SqliteStore
from prometheus_client import generate_latest

from tests.unit.test_content_store import ROUTE
from tests.unit.test_store_leases import LEASE, queued


class _CountedStore:
    """A real SQLite store whose count_background counts its calls and can be made to fail."""

    def __init__(self, store: SqliteStore) -> None:
        self.store = store
        self.reads = 0
        self.down = False

    async def count_background(self, route_id: str) -> tuple[int, int]:
        self.reads += 1
        if self.down:
            raise ConnectionError("the store is down")
        return await self.store.count_background(route_id)


def _depth(metrics: Metrics, state: str) -> float | None:
    return metrics.registry.get_sample_value("pixpress_background_actions", {"state": state})


async def test_reads_once_per_interval_and_keeps_the_last_value_through_an_outage(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    sqlite = SqliteStore(tmp_path / "pixpress.db")
    store = _CountedStore(sqlite)
    metrics = Metrics()
    depth = QueueDepth(store, ROUTE, metrics.background_depth, interval=0.2)  # type: ignore[arg-type]
    try:
        assert _depth(metrics, "queued") is None  # never read: no sample, not a false 0
        rows = await queued(sqlite, 3)
        now = utc_now()
        await sqlite.claim_actions(ROUTE, Lease("a", now + LEASE), now, 1)
        await sqlite.update_action(rows[0].id, ActionStatus.RUNNING, now, holder="a")

        depth.start()
        for _ in range(20):  # scrapes far more often than the interval
            generate_latest(metrics.registry)
            await asyncio.sleep(0.05)
        assert (_depth(metrics, "queued"), _depth(metrics, "running")) == (2, 1)
        assert 3 <= store.reads <= 7  # about 1 s at 0.2 s each, never one per scrape

        caplog.set_level(logging.INFO, logger="pixpress_server.queue_depth")
        store.down = True
        failed_before = store.reads
        await queued(sqlite, 4)
        await asyncio.sleep(1.0)
        assert store.reads - failed_before >= 3  # it kept trying
        assert (_depth(metrics, "queued"), _depth(metrics, "running")) == (2, 1)
        warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
        assert len(warnings) == 1, warnings
        assert "the store is down" in warnings[0].getMessage()

        store.down = False
        await asyncio.sleep(0.6)
        assert (_depth(metrics, "queued"), _depth(metrics, "running")) == (6, 1)
        assert any("read again" in r.getMessage() for r in caplog.records)
    finally:
        await depth.stop()
        await sqlite.close()
    reads = store.reads
    await asyncio.sleep(0.5)
    assert store.reads == reads  # stopped means stopped
