"""Rate limits as pure values: a token bucket per key, and a sliding window of failures per
peer. Both answer "allowed" (None) or how many seconds to wait; the clock is injected."""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass

Clock = Callable[[], float]

# Past this many tracked peers or keys the least recently seen are forgotten, so a caller
# rotating addresses cannot grow the server's memory without bound.
MAX_TRACKED = 100_000


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float


class TokenBuckets:
    """`rate` requests per second per key, with bursts of up to `burst` at once."""

    def __init__(
        self, rate: float, burst: int, clock: Clock = time.monotonic, max_tracked: int = MAX_TRACKED
    ) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("a token bucket needs rate > 0 and burst >= 1")
        self._rate = rate
        self._burst = float(burst)
        self._clock = clock
        self._max_tracked = max_tracked
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    def take(self, key: str) -> float | None:
        """Spend one token of `key`: None when allowed, else the seconds until one is back."""
        now = self._clock()
        bucket = self._buckets.pop(key, None)
        if bucket is None:
            bucket = _Bucket(self._burst, now)
        else:
            bucket.tokens = min(self._burst, bucket.tokens + (now - bucket.updated) * self._rate)
            bucket.updated = now
        self._buckets[key] = bucket
        if len(self._buckets) > self._max_tracked:
            self._buckets.popitem(last=False)
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return None
        return (1 - bucket.tokens) / self._rate


class FailureWindow:
    """At most `limit` failures per peer in any `window` seconds; past that, the peer waits
    until its oldest failure in the window has aged out."""

    def __init__(
        self,
        limit: int,
        window: float = 60.0,
        clock: Clock = time.monotonic,
        max_tracked: int = MAX_TRACKED,
    ) -> None:
        if limit < 1 or window <= 0:
            raise ValueError("a failure window needs limit >= 1 and window > 0")
        self._limit = limit
        self._window = window
        self._clock = clock
        self._max_tracked = max_tracked
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()

    def blocked_for(self, peer: str) -> float | None:
        """None when `peer` may try again now, else the seconds until it may."""
        failures = self._failures.get(peer)
        if failures is None:
            return None
        now = self._clock()
        while failures and failures[0] <= now - self._window:
            failures.popleft()
        if not failures:
            del self._failures[peer]
            return None
        if len(failures) < self._limit:
            return None
        return failures[0] + self._window - now

    def record(self, peer: str) -> None:
        """Count one failure of `peer` now."""
        failures = self._failures.pop(peer, None) or deque(maxlen=self._limit)
        failures.append(self._clock())
        self._failures[peer] = failures
        if len(self._failures) > self._max_tracked:
            self._failures.popitem(last=False)
