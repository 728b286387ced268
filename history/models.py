"""The tables of the shared, customer-centric history.

Numbers never sit here in clear: a number is stored twice, encrypted (to show it to the
back office) and as a keyed blind index (to find it again without decrypting every row).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from history.base import Base, UtcDateTime

# SQLite only auto-increments an INTEGER PRIMARY KEY; everywhere else ids are 64-bit.
BigId = BigInteger().with_variant(Integer(), "sqlite")

REF = 64       # staff ids, customer ids, case ids, order and page references
UNIQUEID = 150  # Asterisk uniqueids may carry a system-name prefix
INDEX = 64     # HMAC-SHA256 as hex


def utcnow() -> datetime:
    return datetime.now(UTC)


class Customer(Base):
    __tablename__ = "customer"

    id: Mapped[str] = mapped_column(String(REF), primary_key=True)
    display_name: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    erased_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class ContactPoint(Base):
    """A phone number or e-mail address known to belong to one customer."""

    __tablename__ = "contact_point"
    __table_args__ = (
        UniqueConstraint("kind", "value_index", name="uq_contact_point_kind_value_index"),
        CheckConstraint("kind IN ('phone', 'email')", name="kind"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    customer_id: Mapped[str] = mapped_column(
        String(REF), ForeignKey("customer.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(16))
    value_index: Mapped[str] = mapped_column(String(INDEX))
    value_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class Case(Base):
    """A ticket: one matter of one customer (often one order), open until someone closes it."""

    # "case" is an SQL keyword; a plain name keeps hand-written SQL simple.
    __tablename__ = "support_case"
    __table_args__ = (CheckConstraint("status IN ('open', 'closed')", name="status"),)

    id: Mapped[str] = mapped_column(String(REF), primary_key=True)
    customer_id: Mapped[str | None] = mapped_column(
        String(REF), ForeignKey("customer.id", ondelete="SET NULL"), index=True
    )
    order_ref: Mapped[str | None] = mapped_column(String(REF), index=True)
    topic: Mapped[str] = mapped_column(String(200), default="")
    owner: Mapped[str | None] = mapped_column(String(REF))
    status: Mapped[str] = mapped_column(String(16), default="open")
    opened_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class Interaction(Base):
    """One contact with the shop: a call today, a chat or an e-mail tomorrow."""

    __tablename__ = "interaction"
    __table_args__ = (CheckConstraint("kind IN ('call', 'chat', 'email')", name="kind"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16))
    channel: Mapped[str] = mapped_column(String(16))
    # "call:<linkedid>" of the first delivery; makes a re-delivered record an update
    natural_key: Mapped[str] = mapped_column(String(UNIQUEID + 16), unique=True)
    started_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    answered_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    disposition: Mapped[str] = mapped_column(String(16))
    answered_by: Mapped[str | None] = mapped_column(String(REF), index=True)
    customer_id: Mapped[str | None] = mapped_column(
        String(REF), ForeignKey("customer.id", ondelete="SET NULL"), index=True
    )
    case_id: Mapped[str | None] = mapped_column(
        String(REF), ForeignKey("support_case.id", ondelete="SET NULL"), index=True
    )
    order_ref: Mapped[str | None] = mapped_column(String(REF), index=True)
    page_ref: Mapped[str | None] = mapped_column(Text)
    caller_kind: Mapped[str] = mapped_column(String(16))
    caller_ref: Mapped[str | None] = mapped_column(String(REF))
    caller_number_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary)
    caller_number_index: Mapped[str | None] = mapped_column(String(INDEX), index=True)
    callee_number_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary)
    callee_number_index: Mapped[str | None] = mapped_column(String(INDEX), index=True)
    route: Mapped[list[str]] = mapped_column(JSON, default=list)
    targets_tried: Mapped[list[str]] = mapped_column(JSON, default=list)
    queue_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    talk_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    wait_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    transfers: Mapped[int] = mapped_column(Integer, default=0)
    source: Mapped[str] = mapped_column(String(32), default="ami")
    extra: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # set when the customer behind it asked to be forgotten: the row stays for statistics
    erased_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class CallLeg(Base):
    """One channel of a call: someone who called or was rung."""

    __tablename__ = "call_leg"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    interaction_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("interaction.id", ondelete="CASCADE"), index=True
    )
    uniqueid: Mapped[str] = mapped_column(String(UNIQUEID), unique=True)
    party_kind: Mapped[str] = mapped_column(String(16))
    party_ref: Mapped[str | None] = mapped_column(String(REF), index=True)
    started_at: Mapped[datetime] = mapped_column(UtcDateTime)
    answered_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    ended_at: Mapped[datetime] = mapped_column(UtcDateTime)
    outcome: Mapped[str] = mapped_column(String(32), default="")
    hangup_cause: Mapped[int | None] = mapped_column(Integer)
    is_caller: Mapped[bool] = mapped_column(Boolean, default=False)
    transferred_to: Mapped[str | None] = mapped_column(String(UNIQUEID))
    ring_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    talk_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    hold_seconds: Mapped[float] = mapped_column(Float, default=0.0)


class CallUniqueid(Base):
    """Every channel uniqueid (and linkedid) ever seen for a call.

    A transfer can change Asterisk's linkedid, so a re-delivered record may carry a new
    natural key; any shared uniqueid still leads back to the same interaction.
    """

    __tablename__ = "call_uniqueid"

    uniqueid: Mapped[str] = mapped_column(String(UNIQUEID), primary_key=True)
    interaction_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("interaction.id", ondelete="CASCADE"), index=True
    )


class EventJournal(Base):
    """Raw AMI/CEL events of a call, kept long enough to rebuild its record, then purged.

    Internal only: payloads hold numbers exactly as Asterisk sent them.
    """

    __tablename__ = "event_journal"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    linkedid: Mapped[str] = mapped_column(String(UNIQUEID), index=True)
    uniqueid: Mapped[str | None] = mapped_column(String(UNIQUEID), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    event: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)
