"""The token bucket per key and the failure window per peer, on a fake clock."""

from __future__ import annotations

import pytest
from pixpress_server.ratelimit import FailureWindow, TokenBuckets


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_bucket_allows_the_burst_then_refuses_with_the_time_to_the_next_token() -> None:
    clock = FakeClock()
    buckets = TokenBuckets(rate=5, burst=5, clock=clock)
    assert [buckets.take("k") for _ in range(5)] == [None] * 5
    assert buckets.take("k") == pytest.approx(0.2)
    clock.now += 0.1
    assert buckets.take("k") == pytest.approx(0.1)
    clock.now += 0.1
    assert buckets.take("k") is None
    assert buckets.take("k") == pytest.approx(0.2)


def test_bucket_refills_at_the_rate_up_to_the_burst_only() -> None:
    clock = FakeClock()
    buckets = TokenBuckets(rate=10, burst=3, clock=clock)
    for _ in range(3):
        assert buckets.take("k") is None
    clock.now += 3600
    assert [buckets.take("k") for _ in range(4)][-1] is not None  # 3 back, not 36,000


def test_keys_have_their_own_buckets() -> None:
    buckets = TokenBuckets(rate=1, burst=1, clock=FakeClock())
    assert buckets.take("a") is None
    assert buckets.take("a") is not None
    assert buckets.take("b") is None


def test_bucket_forgets_the_least_recently_seen_past_max_tracked() -> None:
    buckets = TokenBuckets(rate=1, burst=1, clock=FakeClock(), max_tracked=2)
    for key in ("a", "b", "c"):
        assert buckets.take(key) is None
    assert buckets.take("c") is not None
    assert buckets.take("a") is None  # forgotten: a fresh bucket


@pytest.mark.parametrize(("rate", "burst"), [(0, 1), (-1, 1), (1, 0)])
def test_bucket_rejects_nonsense(rate: float, burst: int) -> None:
    with pytest.raises(ValueError):
        TokenBuckets(rate, burst)


def test_window_blocks_after_the_limit_until_the_oldest_failure_ages_out() -> None:
    clock = FakeClock()
    window = FailureWindow(limit=3, window=60, clock=clock)
    for _ in range(3):
        assert window.blocked_for("peer") is None
        window.record("peer")
        clock.now += 10
    # failures at 1000, 1010, 1020; now 1030: blocked until 1060
    assert window.blocked_for("peer") == pytest.approx(30)
    assert window.blocked_for("other") is None
    clock.now = 1060.5
    assert window.blocked_for("peer") is None
    window.record("peer")  # the 3 in the window are now 1010, 1020, 1060.5
    assert window.blocked_for("peer") == pytest.approx(1070 - 1060.5)


def test_window_forgets_a_peer_whose_failures_aged_out() -> None:
    clock = FakeClock()
    window = FailureWindow(limit=1, window=60, clock=clock)
    window.record("peer")
    assert window.blocked_for("peer") is not None
    clock.now += 61
    assert window.blocked_for("peer") is None
    assert window.blocked_for("peer") is None


def test_window_bounds_the_peers_it_tracks() -> None:
    window = FailureWindow(limit=1, window=60, clock=FakeClock(), max_tracked=2)
    for peer in ("a", "b", "c"):
        window.record(peer)
    assert window.blocked_for("a") is None
    assert window.blocked_for("c") is not None
