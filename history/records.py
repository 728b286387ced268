"""Plain values describing a finished interaction, as the PBX side hands them to the history.

They carry no SQLAlchemy and no I/O: `pbx_bridge` builds them from Asterisk events,
`history` stores them. People are named by reference (staff id, customer id, courier ref);
a phone number appears only as `CallRecord.caller_number`/`callee_number`, which the store
keeps encrypted and which no courier-facing view ever shows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class Channel(StrEnum):
    """How the contact reached the shop (or the shop reached out)."""

    WEB = "web"            # browser call from the widget
    PHONE = "phone"        # inbound through the carrier trunk
    CALLBACK = "callback"  # the shop rang the customer back
    MASKED = "masked"      # courier <-> customer through a proxy number
    INTERNAL = "internal"  # staff to staff
    OUTBOUND = "outbound"  # staff to an outside number
    CHAT = "chat"
    EMAIL = "email"


class Disposition(StrEnum):
    ANSWERED = "answered"
    NO_ANSWER = "no_answer"
    BUSY = "busy"
    ABANDONED = "abandoned"  # the caller hung up before anyone answered
    FAILED = "failed"
    REFUSED = "refused"      # Tugi refused it: bad token, stranger on a proxy number


class PartyKind(StrEnum):
    STAFF = "staff"
    CUSTOMER = "customer"
    COURIER = "courier"
    OUTSOURCED = "outsourced"
    WEB_VISITOR = "web_visitor"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class LegRecord:
    """One channel of a call: someone who was rung or who called."""

    uniqueid: str
    party_kind: PartyKind
    party_ref: str | None          # staff id, customer id, courier ref, "outsourced"
    started_at: datetime
    ended_at: datetime
    answered_at: datetime | None = None
    outcome: str = ""              # answered, no_answer, busy, cancelled, failed, transferred
    hangup_cause: int | None = None
    is_caller: bool = False
    transferred_to: str | None = None  # uniqueid of the leg this one was transferred to
    hold_seconds: float = 0.0

    @property
    def ring_seconds(self) -> float:
        end = self.answered_at or self.ended_at
        return max(0.0, (end - self.started_at).total_seconds())

    @property
    def talk_seconds(self) -> float:
        if self.answered_at is None:
            return 0.0
        return max(0.0, (self.ended_at - self.answered_at).total_seconds() - self.hold_seconds)


@dataclass(frozen=True)
class CallRecord:
    """One customer call, whatever channels and transfers it went through."""

    linkedid: str                  # Asterisk's linked id of the first channel: the natural key
    channel: Channel
    started_at: datetime
    ended_at: datetime
    disposition: Disposition
    legs: tuple[LegRecord, ...] = ()
    answered_at: datetime | None = None
    answered_by: str | None = None     # staff id (or "outsourced") who first answered
    caller_kind: PartyKind = PartyKind.UNKNOWN
    caller_ref: str | None = None      # customer id / courier ref when known
    caller_number: str | None = None   # E.164; personal data, stored encrypted
    callee_number: str | None = None   # E.164 when the shop dialled out; personal data
    customer_id: str | None = None
    case_ref: str | None = None
    order_ref: str | None = None
    page_ref: str | None = None
    route: tuple[str, ...] = ()        # the routing steps taken, e.g. ("person:mari", "team")
    targets_tried: tuple[str, ...] = ()
    queue_seconds: float = 0.0
    transfers: int = 0
    uniqueids: tuple[str, ...] = ()    # every channel uniqueid seen: the dedupe key across restarts
    source: str = "ami"                # ami | reconciliation
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def talk_seconds(self) -> float:
        if self.answered_at is None:
            return 0.0
        return max(0.0, (self.ended_at - self.answered_at).total_seconds())

    @property
    def wait_seconds(self) -> float:
        end = self.answered_at or self.ended_at
        return max(0.0, (end - self.started_at).total_seconds())
