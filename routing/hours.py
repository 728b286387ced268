"""Opening hours: is a place open at a moment, why, and when does it next open.

Everything is reasoned in local wall time of the shop's zone, because that is how hours are
written ("09:00-17:00" means nine on the clock on the wall, in summer and in winter alike).
The one place wall time and real time disagree is a DST change; `next_opening` handles it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from types import MappingProxyType
from zoneinfo import ZoneInfo

import holidays

from config.schema import WEEKDAYS, Hours, TimeRange

# A year and a bit: far enough to pass any run of holidays and closed exceptions.
SEARCH_DAYS = 400

# The schema stores "24:00" as the last representable instant of the day.
END_OF_DAY = time.max


@dataclass(frozen=True)
class DayRule:
    """The ranges that apply on one local date, and the rule they came from."""

    day: date
    ranges: tuple[TimeRange, ...]
    source: str  # "exception" | "holiday" | "weekday"
    description: str


@dataclass(frozen=True)
class OpenState:
    """Whether a place is open at a moment, with the wall time and the rule behind it."""

    is_open: bool
    local: datetime
    rule: DayRule

    @property
    def reason(self) -> str:
        return self.rule.description


def require_aware(at: datetime) -> None:
    # A naive datetime would silently be read as the server's zone, which is the bug we avoid.
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"{at.isoformat()} has no time zone; pass an aware datetime")


def to_local(at: datetime, zone: ZoneInfo) -> datetime:
    require_aware(at)
    # Through UTC: astimezone() to the datetime's own zone returns it untouched, so a wall time
    # that never happened (inside a DST gap) would otherwise be taken at face value.
    return at.astimezone(UTC).astimezone(zone)


def format_clock(value: time) -> str:
    return "24:00" if value == END_OF_DAY else f"{value:%H:%M}"


def format_ranges(ranges: tuple[TimeRange, ...]) -> str:
    return ", ".join(f"{format_clock(r.start)}-{format_clock(r.end)}" for r in ranges) or "closed"


@lru_cache(maxsize=128)
def _holidays_for(country: str, year: int) -> Mapping[date, str]:
    # Building a holiday calendar is slow next to a routing decision, and one is asked per call.
    language = "en_US" if "en_US" in holidays.list_localized_countries().get(country, ()) else None
    calendar = holidays.country_holidays(country, years=year, language=language)
    return MappingProxyType(dict(calendar.items()))


def holiday_name(country: str | None, day: date) -> str | None:
    """The public holiday on `day` in `country`, or None (also when no country is set)."""
    if not country:
        return None
    return _holidays_for(country, day.year).get(day)


def holidays_between(country: str | None, first: date, last: date) -> list[tuple[date, str]]:
    """Public holidays from `first` to `last` inclusive, in date order."""
    if not country:
        return []
    found: list[tuple[date, str]] = []
    for year in range(first.year, last.year + 1):
        found.extend((d, n) for d, n in _holidays_for(country, year).items() if first <= d <= last)
    return sorted(found)


def rule_for(hours: Hours, day: date) -> DayRule:
    """Which ranges apply on a local date: a dated exception, else a holiday, else the weekday."""
    iso = day.isoformat()
    for exception in hours.exceptions:
        if exception.date == iso:
            note = f" ({exception.note})" if exception.note else ""
            text = f"exception {iso}{note}: {format_ranges(exception.hours)}"
            return DayRule(day, exception.hours, "exception", text)
    name = holiday_name(hours.public_holidays, day)
    if name is not None:
        return DayRule(day, (), "holiday", f"public holiday: {name}")
    ranges = hours.for_weekday(day.weekday())
    weekday = WEEKDAYS[day.weekday()].capitalize()
    text = f"{weekday} {format_ranges(ranges)}" if ranges else f"closed on {weekday}s"
    return DayRule(day, ranges, "weekday", text)


def _in_range(wall: time, span: TimeRange) -> bool:
    # The last range of a day may end at 24:00, stored as time.max: include that last instant.
    return span.start <= wall < span.end or (span.end == END_OF_DAY and wall == END_OF_DAY)


def open_state(hours: Hours, zone: ZoneInfo, at: datetime) -> OpenState:
    """Whether `hours` are open at the aware moment `at`, judged on the wall clock of `zone`."""
    local = to_local(at, zone)
    rule = rule_for(hours, local.date())
    wall = local.time().replace(tzinfo=None, fold=0)
    return OpenState(any(_in_range(wall, r) for r in rule.ranges), local, rule)


def is_open(hours: Hours, zone: ZoneInfo, at: datetime) -> bool:
    return open_state(hours, zone, at).is_open


def _wall(instant: datetime, zone: ZoneInfo) -> datetime:
    return to_local(instant, zone).replace(tzinfo=None, fold=0)


def _first_instant_at_wall(day: date, wall: time, zone: ZoneInfo) -> datetime:
    """The earliest real moment whose wall time on `day` is `wall` or later.

    Outside a DST gap that is simply `wall` (its first occurrence, if the hour repeats).
    Inside a gap (spring forward) the wall time never happens, so the answer is the instant
    the clocks jump; found by bisection, since zoneinfo does not expose transitions.
    """
    target = datetime.combine(day, wall)
    first = target.replace(tzinfo=zone, fold=0)
    if _wall(first, zone) == target:
        return first
    low = target.replace(tzinfo=zone, fold=1).astimezone(UTC)
    high = first.astimezone(UTC)
    if low > high:
        low, high = high, low
    while high - low > timedelta(seconds=1):
        middle = low + (high - low) / 2
        if _wall(middle, zone) >= target:
            high = middle
        else:
            low = middle
    return high.replace(microsecond=0).astimezone(zone)


def next_opening(hours: Hours, zone: ZoneInfo, at: datetime, search_days: int = SEARCH_DAYS) -> datetime | None:
    """The first moment at or after `at` when `hours` are open (`at` itself if open now).

    Returns None when nothing opens within `search_days` days, e.g. hours that are all closed.
    The result is in `zone`; in the repeated autumn hour it has fold=1, which Python never finds
    equal to a datetime in another zone, so compare instants in UTC.
    """
    local = to_local(at, zone)
    if open_state(hours, zone, at).is_open:
        return local
    # Compare in UTC: datetimes sharing a tzinfo compare by wall time, ignoring fold and offset.
    since = at.astimezone(UTC)
    for offset in range(search_days + 1):
        day = local.date() + timedelta(days=offset)
        for span in rule_for(hours, day).ranges:
            candidate = _first_instant_at_wall(day, span.start, zone)
            if candidate.astimezone(UTC) < since:
                # `at` may sit in the repeated hour of an autumn change; the later fold is next.
                candidate = datetime.combine(day, span.start).replace(tzinfo=zone, fold=1)
                if candidate.astimezone(UTC) < since:
                    continue
            wall = _wall(candidate, zone)
            if wall.date() == day and _in_range(wall.time(), span):
                return candidate
    return None
