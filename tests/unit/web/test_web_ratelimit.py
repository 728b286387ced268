"""The token bucket on its own, with a hand-stepped clock."""

from __future__ import annotations

import pytest

from web.ratelimit import Rate, TokenBucketLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_burst_then_refuse_with_the_wait() -> None:
    clock = Clock()
    limiter = TokenBucketLimiter(Rate(per_second=2, burst=3), clock)
    assert [limiter.take("a").allowed for _ in range(4)] == [True, True, True, False]
    refused = limiter.take("a")
    assert refused.retry_after == pytest.approx(0.5)
    assert refused.retry_after_header == "1"


def test_refills_at_the_rate_up_to_the_burst() -> None:
    clock = Clock()
    limiter = TokenBucketLimiter(Rate(per_second=1, burst=2), clock)
    limiter.take("a")
    limiter.take("a")
    clock.now += 1
    assert limiter.take("a").allowed
    assert not limiter.take("a").allowed
    clock.now += 100
    assert [limiter.take("a").allowed for _ in range(3)] == [True, True, False]


def test_keys_are_independent() -> None:
    limiter = TokenBucketLimiter(Rate(per_second=1, burst=1), Clock())
    assert limiter.take("a").allowed
    assert not limiter.take("a").allowed
    assert limiter.take("b").allowed


def test_clock_going_backwards_does_not_drain_or_fill() -> None:
    clock = Clock()
    limiter = TokenBucketLimiter(Rate(per_second=1, burst=1), clock)
    limiter.take("a")
    clock.now -= 50
    assert not limiter.take("a").allowed


def test_memory_is_bounded() -> None:
    clock = Clock()
    limiter = TokenBucketLimiter(Rate(per_second=1, burst=5), clock, max_keys=100)
    for n in range(1000):
        limiter.take(f"10.0.{n // 256}.{n % 256}")
    assert len(limiter) <= 100
    # a key that was forgotten starts again with a full bucket, as a new one would
    assert limiter.take("10.0.0.0").allowed


def test_full_buckets_are_forgotten_first() -> None:
    clock = Clock()
    limiter = TokenBucketLimiter(Rate(per_second=1, burst=2), clock, max_keys=2)
    limiter.take("old")
    clock.now += 10  # "old" is full again
    for _ in range(2):
        limiter.take("busy")
    limiter.take("new")
    assert len(limiter) == 2
    assert not limiter.take("busy").allowed  # kept, still empty


@pytest.mark.parametrize(("per_second", "burst"), [(0, 1), (-1, 1), (1, 0)])
def test_rate_must_be_positive(per_second: float, burst: int) -> None:
    with pytest.raises(ValueError):
        Rate(per_second, burst)
