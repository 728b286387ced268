"""A sliding window of failed attempts per source, so proxy numbers cannot be probed by brute force.

Sources are opaque keys (the service passes a blind index, never a number). Attempts refused
because the source is already blocked are not counted again: the block then lifts once the
failures that caused it slide out of the window, instead of a redialling honest caller being
locked out for good.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from datetime import datetime, timedelta

WINDOW = timedelta(minutes=10)
# Above this many tracked sources, forget the ones whose failures have all aged out.
_PRUNE_ABOVE = 10_000


class AttemptLimiter:
    def __init__(
        self, max_failures: int, clock: Callable[[], datetime], window: timedelta = WINDOW
    ) -> None:
        if max_failures < 1:
            raise ValueError("max_failures must be at least 1")
        if window <= timedelta(0):
            raise ValueError("window must be positive")
        self._max = max_failures
        self._clock = clock
        self._window = window
        self._failures: dict[str, deque[datetime]] = {}

    def blocked(self, source: str) -> bool:
        """True when `source` has used up its failures within the window."""
        failures = self._failures.get(source)
        if failures is None:
            return False
        self._forget_old(source, failures, self._clock())
        return len(failures) >= self._max

    def record_failure(self, source: str) -> None:
        now = self._clock()
        failures = self._failures.setdefault(source, deque(maxlen=self._max))
        self._forget_old(source, failures, now)
        self._failures[source] = failures
        failures.append(now)
        if len(self._failures) > _PRUNE_ABOVE:
            self.prune()

    def prune(self) -> None:
        """Drop every source whose failures have all left the window."""
        now = self._clock()
        for source, failures in list(self._failures.items()):
            self._forget_old(source, failures, now)

    def __len__(self) -> int:
        return len(self._failures)

    def _forget_old(self, source: str, failures: deque[datetime], now: datetime) -> None:
        horizon = now - self._window
        while failures and failures[0] <= horizon:
            failures.popleft()
        if not failures:
            self._failures.pop(source, None)
