"""A token-bucket rate limiter per key (a source IP address), with the clock injected.

Pure: no I/O, no aiohttp, no asyncio — the clock is any function returning seconds, so tests
step it by hand. Memory stays bounded: full buckets are forgotten (a new key starts full
anyway), and past `max_keys` the least recently used key goes.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Rate:
    per_second: float
    burst: int

    def __post_init__(self) -> None:
        if self.per_second <= 0 or self.burst < 1:
            raise ValueError("a rate needs per_second > 0 and burst >= 1")


@dataclass(frozen=True)
class Decision:
    allowed: bool
    retry_after: float  # seconds until one more request would pass; 0 when allowed

    @property
    def retry_after_header(self) -> str:
        # Retry-After is whole seconds; never say 0 to a refused client
        return str(max(1, math.ceil(self.retry_after)))


class TokenBucketLimiter:
    def __init__(self, rate: Rate, clock: Callable[[], float], *, max_keys: int = 10_000) -> None:
        self.rate = rate
        self._clock = clock
        self._max_keys = max_keys
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # key -> (tokens, at)

    def take(self, key: str, cost: float = 1.0) -> Decision:
        """Spend `cost` tokens of `key`'s bucket if it has them."""
        now = self._clock()
        tokens = self._level(key, now)
        if tokens >= cost:
            self._store(key, tokens - cost, now)
            return Decision(True, 0.0)
        self._store(key, tokens, now)
        return Decision(False, (cost - tokens) / self.rate.per_second)

    def __len__(self) -> int:
        return len(self._buckets)

    def _level(self, key: str, now: float) -> float:
        found = self._buckets.get(key)
        if found is None:
            return float(self.rate.burst)
        tokens, at = found
        # a clock stepped backwards (wall clock) must not drain a bucket
        elapsed = max(0.0, now - at)
        return min(float(self.rate.burst), tokens + elapsed * self.rate.per_second)

    def _store(self, key: str, tokens: float, now: float) -> None:
        self._buckets[key] = (tokens, now)
        self._buckets.move_to_end(key)
        if len(self._buckets) > self._max_keys:
            self._forget(now)

    def _forget(self, now: float) -> None:
        full = [k for k in self._buckets if self._level(k, now) >= self.rate.burst]
        for key in full:
            del self._buckets[key]
        while len(self._buckets) > self._max_keys:
            self._buckets.popitem(last=False)
