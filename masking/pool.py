"""Choosing the proxy number (and, in single-number mode, the PIN) for a new session.

The rule that keeps resolution unambiguous: on one proxy number, a real number has either
one live PIN-less session or any number of live PIN sessions with distinct PINs, never both.
A proxy can therefore serve many pairs at once, as long as neither party of a new pair
already has a live session on it. Asking the store which proxies each party uses keeps the
cost to the parties' own sessions, however full the pool gets.

In single-number mode the first pool number is kept for PIN sessions only: if it also took
PIN-less ones, a courier's second delivery could not get a PIN there without making the
first one unreachable.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence, Set
from dataclasses import dataclass
from datetime import datetime

from masking.errors import PoolExhausted
from masking.store import SessionStore


@dataclass(frozen=True)
class Allocation:
    proxy_number: str
    pin: str | None


class ProxyPool:
    def __init__(self, numbers: Sequence[str], *, single_number_mode: bool, pin_digits: int) -> None:
        if not 1 <= pin_digits <= 12:
            raise ValueError("pin_digits must be between 1 and 12")
        self.numbers = tuple(numbers)
        self.single_number_mode = single_number_mode
        self.pin_digits = pin_digits
        self._unique = self.numbers[1:] if single_number_mode else self.numbers
        # Each allocation starts looking after the previous pick, so load spreads over the pool.
        self._cursor = 0

    @property
    def pin_proxy(self) -> str | None:
        """The number that carries PIN sessions, when single-number mode is on."""
        return self.numbers[0] if self.single_number_mode and self.numbers else None

    def __contains__(self, number: object) -> bool:
        return number in self.numbers

    def pick_unique(self, busy: Set[str]) -> str | None:
        """The next pool number (rotating) that is not in `busy`, or None."""
        size = len(self._unique)
        for step in range(size):
            position = (self._cursor + step) % size
            candidate = self._unique[position]
            if candidate not in busy:
                self._cursor = (position + 1) % size
                return candidate
        return None

    def fresh_pin(self, used: Set[str]) -> str | None:
        """A random PIN of `pin_digits` digits that is not in `used`, or None if none is left."""
        space = 10**self.pin_digits
        if len(used) >= space:
            return None
        if len(used) * 2 < space:
            # Mostly free: a couple of random draws find one without listing the space.
            while True:
                pin = f"{secrets.randbelow(space):0{self.pin_digits}d}"
                if pin not in used:
                    return pin
        free = [p for p in (f"{n:0{self.pin_digits}d}" for n in range(space)) if p not in used]
        return secrets.choice(free) if free else None

    def allocate(
        self, store: SessionStore, customer_index: str, courier_index: str, now: datetime
    ) -> Allocation:
        """Pick the proxy (and PIN) for a new session between these two parties."""
        if not self.numbers:
            raise PoolExhausted("the proxy-number pool is empty: add numbers to masking.pool")
        busy = store.proxies_in_use((customer_index, courier_index), now)
        proxy = self.pick_unique(busy)
        if proxy is not None:
            return Allocation(proxy, None)
        pin_proxy = self.pin_proxy
        if pin_proxy is None:
            raise PoolExhausted()
        for index in (customer_index, courier_index):
            if any(s.pin is None and s.is_live(now) for s in store.open_on_proxy(index, pin_proxy)):
                # Left over from before single-number mode was switched on: a PIN here would hide it.
                raise PoolExhausted(
                    "proxy-number pool exhausted: a party still holds a PIN-less session on the"
                    " single-number proxy; close it or add numbers to masking.pool"
                )
        pin = self.fresh_pin(store.live_pins(pin_proxy, now))
        if pin is None:
            raise PoolExhausted(
                "proxy-number pool exhausted: every PIN on the single-number proxy is taken;"
                " raise masking.pin_digits or add numbers to masking.pool"
            )
        return Allocation(pin_proxy, pin)
