"""Contact-centre figures over a time range: service level, abandonment, hourly load, wait and talk.

Counted are calls offered to the shop: by default inbound web and phone calls, never the
ones Tugi refused (bad token, stranger on a proxy number) — nobody could have answered those.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Engine, Integer, case, cast, func, select

from history.models import Interaction
from history.records import Channel, Disposition

INBOUND = (Channel.WEB, Channel.PHONE)
# Hours are counted per quarter hour in UTC, then put into the shop's local hours: exact for
# every zone offset in use (all are whole quarter hours), and the grouping stays in SQL.
_SLOT_SECONDS = 900


def call_stats(
    engine: Engine,
    since: datetime,
    until: datetime,
    *,
    timezone: str | ZoneInfo = "Europe/Tallinn",
    answered_within: float = 20.0,
    channels: Iterable[Channel | str] | None = INBOUND,
) -> dict[str, Any]:
    """Figures for calls started in [since, until); `channels=None` counts every channel."""
    zone = timezone if isinstance(timezone, ZoneInfo) else ZoneInfo(timezone)
    answered = Interaction.disposition == Disposition.ANSWERED.value
    abandoned = Interaction.disposition == Disposition.ABANDONED.value
    conditions: list[ColumnElement[bool]] = [
        Interaction.kind == "call",
        Interaction.started_at >= since,
        Interaction.started_at < until,
        Interaction.disposition != Disposition.REFUSED.value,
    ]
    if channels is not None:
        conditions.append(Interaction.channel.in_([str(c) for c in channels]))

    totals = select(
        func.count(),
        func.sum(case((answered, 1), else_=0)),
        func.sum(case((answered & (Interaction.wait_seconds <= answered_within), 1), else_=0)),
        func.sum(case((abandoned, 1), else_=0)),
        func.avg(case((answered, Interaction.wait_seconds))),
        func.avg(case((answered, Interaction.talk_seconds))),
    ).where(*conditions)
    slot = _slot(engine).label("slot")
    hourly = (
        select(slot, func.count(), func.sum(case((answered, 1), else_=0)), func.sum(case((abandoned, 1), else_=0)))
        .where(*conditions)
        .group_by(slot)
    )
    with engine.connect() as connection:
        offered, n_answered, in_time, n_abandoned, avg_wait, avg_talk = connection.execute(totals).one()
        slots = connection.execute(hourly).all()

    by_hour = [{"hour": hour, "offered": 0, "answered": 0, "abandoned": 0} for hour in range(24)]
    for slot_number, count, slot_answered, slot_abandoned in slots:
        hour = datetime.fromtimestamp(int(slot_number) * _SLOT_SECONDS, zone).hour
        by_hour[hour]["offered"] += count
        by_hour[hour]["answered"] += slot_answered or 0
        by_hour[hour]["abandoned"] += slot_abandoned or 0

    n_answered = n_answered or 0
    n_abandoned = n_abandoned or 0
    return {
        "since": since.isoformat(),
        "until": until.isoformat(),
        "timezone": zone.key,
        "answered_within_seconds": answered_within,
        "offered": offered,
        "answered": n_answered,
        "answered_in_time": in_time or 0,
        "abandoned": n_abandoned,
        "service_level": _share(in_time or 0, n_answered),
        "abandonment_rate": _share(n_abandoned, offered),
        "avg_wait_seconds": None if avg_wait is None else float(avg_wait),
        "avg_talk_seconds": None if avg_talk is None else float(avg_talk),
        "by_hour": by_hour,
    }


def _slot(engine: Engine) -> ColumnElement[Any]:
    """The quarter hour (counted from the epoch, UTC) a call started in."""
    if engine.dialect.name == "postgresql":
        return func.floor(func.extract("epoch", Interaction.started_at) / _SLOT_SECONDS)
    if engine.dialect.name == "sqlite":
        # SQLite keeps naive UTC text (see base.UtcDateTime); integer division floors here
        return cast(func.strftime("%s", Interaction.started_at), Integer) / _SLOT_SECONDS
    raise ValueError(f"statistics support SQLite and PostgreSQL, not {engine.dialect.name}")


def _share(part: int, whole: int) -> float | None:
    return None if not whole else part / whole
