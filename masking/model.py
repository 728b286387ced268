"""The values masking deals in: who takes part in a masked delivery, and what a call should do.

A session pairs one customer and one courier behind a proxy number. Real numbers appear here in
clear because the domain needs them to dial; they are sealed before they reach any store, and a
`Refuse` deliberately says nothing, so a caller cannot learn why (or whether) a mapping exists.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal, TypeAlias

Role = Literal["customer", "courier"]

# Why a call was refused, for the operator's log only. None of these ever carries a number.
RefusalCode = Literal[
    "withheld",      # no caller number, or "anonymous"/"restricted"
    "bad_caller",    # a caller number that does not parse
    "unknown_proxy",  # the dialled number is not in the pool
    "rate_limited",  # too many failed attempts from this source
    "stranger",      # the caller has no session on this proxy number
    "expired",       # the caller's session ran past its expiry
    "closed",        # the caller's session was closed (delivered, cancelled, erased)
    "bad_pin",       # single-number mode, and the PIN matched none of the caller's sessions
    "ambiguous",     # two PIN-less sessions for one (caller, proxy): an invariant broke
]


@dataclass(frozen=True)
class Participant:
    role: Role
    ref: str                # customer id / courier id
    number: str | None      # E.164; None once purged or erased


@dataclass(frozen=True)
class MaskingSession:
    id: str
    order_ref: str
    case_ref: str | None
    customer: Participant
    courier: Participant
    proxy_number: str
    pin: str | None
    created_at: datetime
    expires_at: datetime
    closed_at: datetime | None
    erased: bool

    def is_live(self, at: datetime) -> bool:
        """True while a call through the proxy may connect the two parties."""
        return self.closed_at is None and not self.erased and self.created_at <= at < self.expires_at

    def party(self, number: str) -> Participant | None:
        """The participant whose real number this is, if any."""
        for participant in (self.customer, self.courier):
            if participant.number is not None and participant.number == number:
                return participant
        return None

    def other_party(self, number: str) -> Participant | None:
        """The participant a call from `number` should reach, or None for a stranger."""
        if self.customer.number is not None and number == self.customer.number:
            return self.courier
        if self.courier.number is not None and number == self.courier.number:
            return self.customer
        return None


@dataclass(frozen=True)
class Connect:
    session_id: str
    dial_number: str        # the other party's real number: for the Dial, never for a caller ID
    caller_id: str          # the proxy number, so the callee can ring back through it
    order_ref: str
    case_ref: str | None
    callee_role: Role
    callee_ref: str
    caller_role: Role
    caller_ref: str


@dataclass(frozen=True)
class NeedPin:
    """Single-number mode: ask the caller for the PIN, then resolve again with it."""

    proxy_number: str


@dataclass(frozen=True)
class Refuse:
    """Play the same refusal whatever the cause; the cause goes to `Refusal`, for the log."""


Resolution: TypeAlias = Connect | NeedPin | Refuse


@dataclass(frozen=True)
class Refusal:
    """What the operator's log may say about a refused call: a code and the shop's own numbers."""

    code: RefusalCode
    proxy_number: str | None  # only ever a pool number; None when the dialled number is not one
    session_id: str | None = None
