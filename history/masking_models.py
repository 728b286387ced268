"""The `masking_session` table: one row per masked courier–customer pairing.

Real numbers are never stored in clear: each party has a sealed number (AES-GCM bytes) and a
blind index (HMAC hex) that lookups use. The composite indexes put the blind index first and
`closed_at` last, so "live sessions of this number on this proxy" and "proxies this number
uses" are index range scans over one person's rows, whatever the size of the table.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Index, LargeBinary, String, false
from sqlalchemy.orm import Mapped, mapped_column

from history.base import Base, UtcDateTime


class MaskingSessionRow(Base):
    __tablename__ = "masking_session"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    order_ref: Mapped[str] = mapped_column(String(64))
    case_ref: Mapped[str | None] = mapped_column(String(64))
    customer_ref: Mapped[str] = mapped_column(String(64))
    customer_number: Mapped[bytes | None] = mapped_column(LargeBinary)
    customer_index: Mapped[str | None] = mapped_column(String(64))
    courier_ref: Mapped[str] = mapped_column(String(64))
    courier_number: Mapped[bytes | None] = mapped_column(LargeBinary)
    courier_index: Mapped[str | None] = mapped_column(String(64))
    proxy_number: Mapped[str] = mapped_column(String(16))
    pin: Mapped[str | None] = mapped_column(String(12))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    erased: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    __table_args__ = (
        # resolve (number, proxy, open) and allocation (proxies of a number), per role
        Index("ix_masking_session_customer_proxy", "customer_index", "proxy_number", "closed_at"),
        Index("ix_masking_session_courier_proxy", "courier_index", "proxy_number", "closed_at"),
        # PINs in use on the single-number proxy
        Index("ix_masking_session_proxy_open", "proxy_number", "closed_at", "pin"),
        # housekeeping: open sessions by expiry, unpurged sessions by closing time
        Index("ix_masking_session_closed_expires", "closed_at", "expires_at"),
        Index("ix_masking_session_erased_closed", "erased", "closed_at"),
        Index("ix_masking_session_order_ref", "order_ref"),
        Index("ix_masking_session_customer_ref", "customer_ref"),
    )


masking_session = MaskingSessionRow.__table__
