"""The values routing takes and returns: a call request in, a plan of ring steps out."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Literal


class CallKind(StrEnum):
    WEB = "web"  # from the widget in a browser
    CALLBACK = "callback"  # a call-back request: the staff leg is planned like an inbound call
    INBOUND = "inbound"  # a customer dialling the shop's number
    MASKED = "masked"  # courier ↔ customer through a proxy number: masking decides, not routing
    INTERNAL = "internal"  # one staff phone dialling another's extension
    OUTBOUND = "outbound"  # a staff phone dialling an outside number


@dataclass(frozen=True)
class CallRequest:
    kind: CallKind
    requested_person: str | None = None
    skills: tuple[str, ...] = ()
    language: str | None = None
    page_ref: str | None = None
    order_ref: str | None = None
    case_ref: str | None = None
    customer_id: str | None = None
    # Staff id who last handled this customer's open order or case; the caller looks it up in
    # the history so that routing stays free of storage.
    last_handler: str | None = None
    # The extension (internal) or E.164 number (outbound) that was dialled.
    dialled: str | None = None


TargetKind = Literal["staff", "showroom", "outsourced", "external"]


@dataclass(frozen=True)
class Target:
    """Something to ring. `ref` is a staff id (staff, showroom), the outsourced centre's SIP URI,
    or an E.164 number (external)."""

    kind: TargetKind
    ref: str


@dataclass(frozen=True)
class RingStep:
    """Targets rung at the same time for `ring_seconds`; ringing "in turn" is several steps."""

    targets: tuple[Target, ...]
    ring_seconds: int
    reason: str
    label: str


FallbackKind = Literal["outsourced", "closed_message", "none"]


@dataclass(frozen=True)
class Fallback:
    """What happens when every step rang out (or there were none)."""

    kind: FallbackKind
    reason: str
    target: Target | None = None  # set for "outsourced"
    ring_seconds: int | None = None  # set for "outsourced"
    next_opening: datetime | None = None  # for "closed_message": when the shop answers again
    announcement: str = ""  # for "closed_message": the sentence played to the caller


@dataclass(frozen=True)
class Plan:
    steps: tuple[RingStep, ...]
    fallback: Fallback
    reasons: tuple[str, ...]
    skipped: tuple[tuple[str, str], ...]  # (staff_id, why they were not rung)

    @property
    def staff_rung(self) -> tuple[str, ...]:
        """Staff ids in the order they first ring."""
        seen: dict[str, None] = {}
        for step in self.steps:
            for target in step.targets:
                if target.kind in ("staff", "showroom"):
                    seen.setdefault(target.ref, None)
        return tuple(seen)
