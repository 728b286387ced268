"""Times of the week when a call would reach nobody, found from the configuration alone.

The rules mirror the planner's: the team and the showroom answer only while the shop is open
(the showroom answers
during its own hours, even while the shop is closed), and the outsourced centre answers when enabled and open.
Presence is not known here, so everyone configured is assumed to be at their phone.
Wall time is compared in whole minutes, which is the precision hours are written in.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from config.schema import WEEKDAYS, Hours, Settings, TimeRange
from routing.hours import END_OF_DAY, holidays_between, rule_for

DAY_MINUTES = 24 * 60
LOOKAHEAD_DAYS = 365


@dataclass(frozen=True)
class _Day:
    shop: tuple[TimeRange, ...]
    showroom: tuple[TimeRange, ...]
    outsourced: tuple[TimeRange, ...]


def _minute(value: time) -> int:
    return DAY_MINUTES if value == END_OF_DAY else value.hour * 60 + value.minute


def _covers(ranges: tuple[TimeRange, ...], minute: int) -> bool:
    return any(_minute(r.start) <= minute < _minute(r.end) for r in ranges)


def _clock(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


@dataclass(frozen=True)
class _Gap:
    start: int
    end: int
    shop_open: bool  # open but nobody to answer: only possible without a team
    showroom_open: tuple[tuple[int, int], ...]  # stretches the showroom is open inside the gap


def _why(settings: Settings, gap: _Gap) -> str:
    if gap.shop_open and not settings.staff:
        shop = "the shop is open but has no staff"
    elif gap.shop_open:
        shop = "the shop is open but its only staff work in the showroom, which is closed"
    elif not settings.showroom_staff:
        shop = "the shop is closed"
    elif gap.showroom_open:
        spans = ", ".join(f"{_clock(s)}-{_clock(e)}" for s, e in gap.showroom_open)
        shop = f"the shop is closed (the showroom is open {spans}, but calls reach it only while the shop is open)"
    else:
        shop = "the shop and showroom are closed"
    centre = (
        "the outsourced centre is disabled" if not settings.outsourced.enabled else "the outsourced centre is closed"
    )
    return f"nobody answers — {shop} and {centre}"


def _add_span(spans: tuple[tuple[int, int], ...], start: int, end: int) -> tuple[tuple[int, int], ...]:
    if spans and spans[-1][1] == start:
        return (*spans[:-1], (spans[-1][0], end))
    return (*spans, (start, end))


def _gaps(settings: Settings, day: _Day) -> list[_Gap]:
    """Each stretch of the day nobody answers, split only where the shop opens or closes."""
    has_team = any(not s.showroom for s in settings.staff)
    has_showroom = bool(settings.showroom_staff)
    edges = {0, DAY_MINUTES}
    for span in (*day.shop, *day.showroom, *day.outsourced):
        edges.update((_minute(span.start), _minute(span.end)))
    gaps: list[_Gap] = []
    for start, end in itertools.pairwise(sorted(edges)):
        shop = _covers(day.shop, start)
        showroom = has_showroom and _covers(day.showroom, start)
        centre = settings.outsourced.enabled and _covers(day.outsourced, start)
        if centre or (shop and has_team) or (has_showroom and showroom):
            continue
        if gaps and gaps[-1].end == start and gaps[-1].shop_open == shop:
            last = gaps[-1]
            spans = _add_span(last.showroom_open, start, end) if showroom else last.showroom_open
            gaps[-1] = _Gap(last.start, end, shop, spans)
        else:
            gaps.append(_Gap(start, end, shop, ((start, end),) if showroom else ()))
    return gaps


def _lines(settings: Settings, label: str, gaps: list[_Gap]) -> list[str]:
    return [f"{label} {_span_text(g.start, g.end)}: {_why(settings, g)}" for g in gaps]


def _span_text(start: int, end: int) -> str:
    return "all day" if (start, end) == (0, DAY_MINUTES) else f"{_clock(start)}-{_clock(end)}"


def _typical(settings: Settings, weekday: int) -> _Day:
    return _Day(
        settings.shop.hours.for_weekday(weekday),
        settings.showroom_hours.for_weekday(weekday),
        settings.outsourced.hours.for_weekday(weekday),
    )


def _on(settings: Settings, day: date) -> _Day:
    return _Day(
        rule_for(settings.shop.hours, day).ranges,
        rule_for(settings.showroom_hours, day).ranges,
        rule_for(settings.outsourced.hours, day).ranges,
    )


def _special_days(settings: Settings, first: date, last: date) -> dict[date, str]:
    """Dates whose hours may differ from their weekday: holidays and dated exceptions."""
    found: dict[date, str] = {}
    every_hours: tuple[Hours, ...] = (settings.shop.hours, settings.showroom_hours, settings.outsourced.hours)
    for hours in every_hours:
        for day, name in holidays_between(hours.public_holidays, first, last):
            found.setdefault(day, name)
        for exception in hours.exceptions:
            day = date.fromisoformat(exception.date)
            if first <= day <= last:
                found.setdefault(day, exception.note or "exception")
    return dict(sorted(found.items()))


def _weekday_label(first: int, last: int) -> str:
    if first == last:
        return WEEKDAYS[first].capitalize()
    return f"{WEEKDAYS[first].capitalize()}–{WEEKDAYS[last].capitalize()}"


def unreachable_hours(settings: Settings, today: date | None = None) -> list[str]:
    """Warnings for each stretch of a typical week, then of the coming year's holidays and
    exceptions, when a call would reach nobody. `today` defaults to the shop's local date."""
    if today is None:
        today = datetime.now(settings.shop.zone).date()
    typical = [_gaps(settings, _typical(settings, weekday)) for weekday in range(7)]
    warnings: list[str] = []
    first = 0
    while first < 7:
        # Days in a row with the same gaps read as one line: "Monday–Friday 00:00-09:00".
        last = first
        while last + 1 < 7 and typical[last + 1] == typical[first]:
            last += 1
        warnings.extend(_lines(settings, _weekday_label(first, last), typical[first]))
        first = last + 1
    for day, name in _special_days(settings, today, today + timedelta(days=LOOKAHEAD_DAYS)).items():
        gaps = _gaps(settings, _on(settings, day))
        if [(g.start, g.end) for g in gaps] == [(g.start, g.end) for g in typical[day.weekday()]]:
            continue  # the same stretches as any such weekday: already reported above
        label = f"{day.isoformat()} ({name}, {WEEKDAYS[day.weekday()].capitalize()})"
        warnings.extend(_lines(settings, label, gaps))
    return warnings
