"""Measurement primitives: size classes, percentiles, CPU time and peak RSS of process trees."""

from __future__ import annotations

import asyncio
import statistics
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import psutil

KB = 1000
MB = 1000 * 1000
MIB = 1024 * 1024

SIZE_CLASSES: tuple[tuple[str, float], ...] = (
    ("<=50KB", 50 * KB),
    ("<=1MB", 1 * MB),
    (">1MB", float("inf")),
)
"""Latency size classes by input file size: (label, upper bound in bytes, inclusive)."""


def size_class(size: int) -> str:
    """The label of the SIZE_CLASSES row an input of `size` bytes falls in."""
    for label, upper in SIZE_CLASSES:
        if size <= upper:
            return label
    return SIZE_CLASSES[-1][0]


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) with linear interpolation; NaN when empty."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def median(values: Iterable[float]) -> float:
    """Median, NaN when empty."""
    items = list(values)
    return statistics.median(items) if items else float("nan")


def _processes(pids: Iterable[int]) -> list[psutil.Process]:
    found = []
    for pid in pids:
        try:
            found.append(psutil.Process(pid))
        except psutil.Error:
            continue
    return found


def tree_pids(root: int) -> list[int]:
    """`root` and all its descendants (empty if it is gone)."""
    try:
        process = psutil.Process(root)
        return [root, *(child.pid for child in process.children(recursive=True))]
    except psutil.Error:
        return []


def cpu_seconds(pids: Iterable[int]) -> dict[int, float]:
    """User + system CPU seconds of each live process."""
    times = {}
    for process in _processes(pids):
        try:
            cpu = process.cpu_times()
        except psutil.Error:
            continue
        times[process.pid] = cpu.user + cpu.system
    return times


def system_busy_seconds() -> float:
    """CPU seconds the whole machine has spent busy (all cores, everything but idle/iowait)."""
    times = psutil.cpu_times()
    return float(sum(times) - times.idle - getattr(times, "iowait", 0.0))


def cpu_delta(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU seconds spent between two `cpu_seconds` snapshots (new processes count in full)."""
    return sum(value - before.get(pid, 0.0) for pid, value in after.items())


def own_cpu_seconds() -> float:
    """User + system CPU seconds this process has used (the benchmark's client)."""
    times = psutil.Process().cpu_times()
    return float(times.user + times.system)


async def settle(pids: Callable[[], list[int]], window: float, busy: float, limit: float) -> None:
    """Wait (up to `limit` s) until the processes `pids()` names use under `busy` of a core
    over `window` s: the previous pass's tail would otherwise slow the next one."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        named = pids()
        before = cpu_seconds(named)
        await asyncio.sleep(window)
        if cpu_delta(before, cpu_seconds(named)) < busy * window:
            return


@dataclass
class RssPeaks:
    """Peak resident set sizes seen by an RssSampler, in bytes."""

    total: int = 0
    """Largest sum over all sampled processes at one instant."""
    root: int = 0
    """Largest RSS of the root (server) process alone."""
    single_child: int = 0
    """Largest RSS of any one child (worker) process."""
    children_total: int = 0
    """Largest sum over the child (worker) processes at one instant."""
    samples: int = 0


@dataclass
class RssSampler:
    """Samples RSS of a root process and its descendants at `hz` in a background thread.

    `pids` may replace the default tree walk (e.g. for a process pool without a root).
    """

    root: int | None
    pids: Callable[[], list[int]] | None = None
    hz: float = 20.0
    peaks: RssPeaks = field(default_factory=RssPeaks)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def _sample(self) -> None:
        pids = self.pids() if self.pids is not None else tree_pids(self.root or 0)
        total = root = children = single = 0
        for process in _processes(pids):
            try:
                rss = process.memory_info().rss
            except psutil.Error:
                continue
            total += rss
            if process.pid == self.root:
                root = rss
            else:
                children += rss
                single = max(single, rss)
        peaks = self.peaks
        peaks.total = max(peaks.total, total)
        peaks.root = max(peaks.root, root)
        peaks.children_total = max(peaks.children_total, children)
        peaks.single_child = max(peaks.single_child, single)
        peaks.samples += 1

    def _loop(self) -> None:
        interval = 1.0 / self.hz
        while not self._stop.is_set():
            started = time.perf_counter()
            self._sample()
            self._stop.wait(max(0.0, interval - (time.perf_counter() - started)))

    def __enter__(self) -> RssSampler:
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="rss-sampler", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self._sample()
