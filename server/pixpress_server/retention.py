"""Retention: finished actions and stored outputs past their age are deleted.

`sweep` is one pass; the server runs it periodically (`Sweeper`), `pixpress-server gc` once.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING

from pixpress_server.store.records import utc_now

if TYPE_CHECKING:
    from datetime import datetime

    from pixpress_server.blobs import Blobs
    from pixpress_server.content import Contents
    from pixpress_server.store.base import Store
    from pixpress_server.store.records import AssetRecord

logger = logging.getLogger(__name__)

MAX_SWEEP_INTERVAL = 600.0  # seconds: a long retention is still enforced within 10 minutes
_BATCH = 500  # outputs deleted per statement, so one sweep never holds the database long


@dataclass(frozen=True, slots=True)
class Retention:
    """How long finished actions and stored outputs are kept, in seconds (None: forever)."""

    actions: float | None
    outputs: float | None

    @property
    def enabled(self) -> bool:
        return self.actions is not None or self.outputs is not None

    @property
    def interval(self) -> float:
        """Seconds between sweeps: nothing outlives its retention by more than half of it."""
        ages = [age for age in (self.actions, self.outputs) if age is not None]
        return min([MAX_SWEEP_INTERVAL, *(age / 2 for age in ages)])


@dataclass(slots=True)
class SweepReport:
    actions: int = 0
    outputs: list[AssetRecord] = field(default_factory=list)
    blobs_removed: int = 0

    @property
    def empty(self) -> bool:
        return not (self.actions or self.outputs or self.blobs_removed)


async def sweep(
    store: Store, contents: Contents, retention: Retention, now: datetime | None = None
) -> SweepReport:
    """Delete finished actions and stored outputs older than their retention.

    An output that a queued or running action names as its input is kept; uploads are
    never deleted by age. A deleted output's blob goes unless another asset or an
    unfinished action still references the same bytes.
    """
    now = utc_now() if now is None else now
    report = SweepReport()
    if retention.actions is not None:
        before = now - timedelta(seconds=retention.actions)
        report.actions = await store.delete_finished_actions(before)
    if retention.outputs is not None:
        before = now - timedelta(seconds=retention.outputs)
        while batch := await store.delete_expired_outputs(before, _BATCH):
            report.outputs.extend(batch)
            for asset in batch:
                report.blobs_removed += await contents.release(asset.sha256)
            if len(batch) < _BATCH:
                break
    return report


async def collect_unreferenced_blobs(store: Store, contents: Contents, blobs: Blobs) -> int:
    """Remove blob files that nothing references (a crash can leave them); how many."""
    referenced = await store.all_content()
    on_disk = await asyncio.to_thread(lambda: set(blobs.stored()))
    removed = 0
    for sha256 in sorted(on_disk - referenced):
        # Rechecked under the digest's lock: a writer may be adding it right now.
        removed += await contents.release(sha256)
    return removed


class Sweeper:
    """Runs `sweep` every `retention.interval` seconds while the server serves."""

    def __init__(self, store: Store, contents: Contents, retention: Retention) -> None:
        self._store = store
        self._contents = contents
        self._retention = retention
        self._task: asyncio.Task[None] | None = None

    @classmethod
    def started(cls, store: Store, contents: Contents, retention: Retention) -> Sweeper:
        """A sweeper already running (idle when no retention is set); `stop` it."""
        sweeper = cls(store, contents, retention)
        if retention.enabled:
            sweeper._task = asyncio.get_running_loop().create_task(sweeper._run(), name="retention")
        return sweeper

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _run(self) -> None:
        while True:
            try:
                report = await sweep(self._store, self._contents, self._retention)
            except Exception:
                logger.exception("retention sweep failed; trying again next interval")
            else:
                if not report.empty:
                    logger.info(
                        "retention: deleted %d actions, %d stored outputs (%d bytes), %d blobs",
                        report.actions,
                        len(report.outputs),
                        sum(asset.size for asset in report.outputs),
                        report.blobs_removed,
                    )
            await asyncio.sleep(self._retention.interval)
