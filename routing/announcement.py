"""What a caller hears when nobody can answer: the weekly hours in a short spoken sentence."""

from __future__ import annotations

from datetime import time

from config.schema import WEEKDAYS, Hours, TimeRange
from routing.hours import END_OF_DAY

NOBODY_FREE = "Nobody is free to answer right now; please leave a call-back request"


def _spoken_clock(value: time) -> str:
    if value == END_OF_DAY:
        return "24"
    return f"{value.hour}" if value.minute == 0 else f"{value.hour}:{value.minute:02d}"


def _spoken_ranges(ranges: tuple[TimeRange, ...]) -> str:
    return " and ".join(f"{_spoken_clock(r.start)}–{_spoken_clock(r.end)}" for r in ranges)


def _spoken_days(first: int, last: int) -> str:
    names = {(0, 4): "on working days", (0, 6): "every day", (5, 6): "at weekends"}
    if (first, last) in names:
        return names[(first, last)]
    if first == last:
        return f"on {WEEKDAYS[first].capitalize()}s"
    joiner = " and " if last == first + 1 else " to "
    return f"{WEEKDAYS[first].capitalize()}{joiner}{WEEKDAYS[last].capitalize()}"


def describe_week(hours: Hours) -> str:
    """E.g. "9–17 on working days and 10–16 on Saturdays"; "" when every day is closed."""
    parts: list[str] = []
    day = 0
    while day < 7:
        ranges = hours.for_weekday(day)
        last = day
        while last + 1 < 7 and hours.for_weekday(last + 1) == ranges:
            last += 1
        if ranges:
            parts.append(f"{_spoken_ranges(ranges)} {_spoken_days(day, last)}")
        day = last + 1
    return ", ".join(parts[:-1]) + (" and " if len(parts) > 1 else "") + (parts[-1] if parts else "")


def closed_announcement(hours: Hours) -> str:
    """The sentence played after hours, built from the configured weekly hours."""
    week = describe_week(hours)
    if not week:
        return "Please leave a call-back request"
    return f"We answer {week}; please leave a call-back request"
