from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from config.schema import Hours
from routing.announcement import closed_announcement, describe_week
from routing.hours import holiday_name, holidays_between, is_open, next_opening, open_state, rule_for

TALLINN = ZoneInfo("Europe/Tallinn")
WORKDAYS = {d: "09:00-17:00" for d in ("monday", "tuesday", "wednesday", "thursday", "friday")}


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=TALLINN)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def hours(**kwargs: object) -> Hours:
    return Hours.model_validate(kwargs)


OFFICE = hours(**WORKDAYS, public_holidays="EE")


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (local(2026, 12, 21, 8, 59), False),
        (local(2026, 12, 21, 9, 0), True),
        (local(2026, 12, 21, 16, 59, 59), True),
        (local(2026, 12, 21, 17, 0), False),  # closing time is exclusive
        (local(2026, 12, 19, 12, 0), False),  # Saturday
        (local(2026, 12, 20, 12, 0), False),  # Sunday
    ],
)
def test_weekday_ranges(moment: datetime, expected: bool) -> None:
    assert is_open(OFFICE, TALLINN, moment) is expected


def test_any_zone_of_the_moment_is_read_on_the_shop_wall_clock() -> None:
    # 07:30 UTC on a winter Monday is 09:30 in Tallinn.
    assert is_open(OFFICE, TALLINN, utc(2026, 12, 21, 7, 30))
    assert not is_open(OFFICE, TALLINN, utc(2026, 12, 21, 6, 30))
    new_york = datetime(2026, 12, 21, 2, 30, tzinfo=ZoneInfo("America/New_York"))
    assert is_open(OFFICE, TALLINN, new_york)


def test_naive_moment_is_refused() -> None:
    with pytest.raises(ValueError, match="no time zone"):
        is_open(OFFICE, TALLINN, datetime(2026, 12, 21, 10, 0))


@pytest.mark.parametrize(
    ("moment", "reason"),
    [
        (local(2026, 12, 21, 10, 0), "Monday 09:00-17:00"),
        (local(2026, 12, 21, 18, 0), "Monday 09:00-17:00"),
        (local(2026, 12, 20, 10, 0), "closed on Sundays"),
        (local(2026, 12, 24, 10, 0), "public holiday: Christmas Eve"),
        (local(2026, 6, 24, 10, 0), "public holiday: Midsummer Day"),
        (local(2026, 6, 23, 10, 0), "public holiday: Victory Day"),
    ],
)
def test_reasons(moment: datetime, reason: str) -> None:
    assert open_state(OFFICE, TALLINN, moment).reason == reason


def test_christmas_eve_and_midsummer_are_closed() -> None:
    assert not is_open(OFFICE, TALLINN, local(2026, 12, 24, 11, 0))  # a Thursday
    assert not is_open(OFFICE, TALLINN, local(2026, 6, 24, 11, 0))  # a Wednesday
    assert is_open(OFFICE, TALLINN, local(2026, 6, 25, 11, 0))


def test_no_holiday_country_means_holidays_are_ordinary_days() -> None:
    plain = hours(**WORKDAYS, public_holidays="")
    assert is_open(plain, TALLINN, local(2026, 12, 24, 11, 0))
    assert holiday_name(None, date(2026, 12, 24)) is None


def test_exception_shortens_a_day() -> None:
    short = hours(**WORKDAYS, exceptions=[{"date": "2026-12-31", "hours": "09:00-13:00", "note": "short day"}])
    assert is_open(short, TALLINN, local(2026, 12, 31, 12, 59))
    assert not is_open(short, TALLINN, local(2026, 12, 31, 13, 0))
    assert (
        open_state(short, TALLINN, local(2026, 12, 31, 14, 0)).reason == "exception 2026-12-31 (short day): 09:00-13:00"
    )


def test_empty_exception_closes_a_working_day() -> None:
    closed = hours(**WORKDAYS, exceptions=[{"date": "2026-12-21"}])
    state = open_state(closed, TALLINN, local(2026, 12, 21, 10, 0))
    assert not state.is_open
    assert state.reason == "exception 2026-12-21: closed"
    assert state.rule.source == "exception"


def test_exception_wins_over_a_public_holiday() -> None:
    opened = hours(**WORKDAYS, public_holidays="EE", exceptions=[{"date": "2026-12-24", "hours": "10:00-12:00"}])
    assert is_open(opened, TALLINN, local(2026, 12, 24, 11, 0))
    assert rule_for(opened, date(2026, 12, 24)).source == "exception"


def test_holiday_names_are_english_and_listed_in_order() -> None:
    assert holiday_name("EE", date(2026, 12, 24)) == "Christmas Eve"
    listed = holidays_between("EE", date(2026, 12, 1), date(2027, 1, 2))
    assert [d for d, _ in listed] == [date(2026, 12, 24), date(2026, 12, 25), date(2026, 12, 26), date(2027, 1, 1)]


def test_midnight_end_is_open_to_the_last_instant() -> None:
    always = hours(**{d: "00:00-24:00" for d in ("saturday", "sunday")}, public_holidays="")
    assert is_open(always, TALLINN, local(2026, 12, 19, 23, 59, 59, 999999))
    assert is_open(always, TALLINN, local(2026, 12, 20, 0, 0))
    assert open_state(always, TALLINN, local(2026, 12, 19, 1, 0)).reason == "Saturday 00:00-24:00"


# --- DST: Europe/Tallinn springs forward 2026-03-29 03:00 EET → 04:00 EEST (01:00 UTC)
# --- and falls back 2026-10-25 04:00 EEST → 03:00 EET (01:00 UTC).


def test_office_hours_follow_the_wall_clock_across_spring_forward() -> None:
    # Friday before: EET (UTC+2); Monday after: EEST (UTC+3).
    assert is_open(OFFICE, TALLINN, utc(2026, 3, 27, 7, 0))
    assert not is_open(OFFICE, TALLINN, utc(2026, 3, 27, 6, 59))
    assert is_open(OFFICE, TALLINN, utc(2026, 3, 30, 6, 0))
    assert not is_open(OFFICE, TALLINN, utc(2026, 3, 30, 5, 59))
    assert not is_open(OFFICE, TALLINN, utc(2026, 3, 30, 14, 0))  # 17:00 EEST


def test_office_hours_follow_the_wall_clock_across_fall_back() -> None:
    assert is_open(OFFICE, TALLINN, utc(2026, 10, 23, 6, 0))  # Friday 09:00 EEST
    assert not is_open(OFFICE, TALLINN, utc(2026, 10, 23, 5, 59))
    assert is_open(OFFICE, TALLINN, utc(2026, 10, 26, 7, 0))  # Monday 09:00 EET
    assert not is_open(OFFICE, TALLINN, utc(2026, 10, 26, 6, 59))
    assert next_opening(OFFICE, TALLINN, local(2026, 10, 23, 18, 0)) == utc(2026, 10, 26, 7, 0)


def test_range_inside_the_skipped_hour_opens_when_the_clocks_jump() -> None:
    night = hours(sunday="03:30-05:00", public_holidays="")
    # 02:59 EET is closed, and 03:30 never happens: the first open instant is 04:00 EEST.
    assert not is_open(night, TALLINN, utc(2026, 3, 29, 0, 59))
    assert is_open(night, TALLINN, utc(2026, 3, 29, 1, 0))
    found = next_opening(night, TALLINN, utc(2026, 3, 29, 0, 0))
    assert found == utc(2026, 3, 29, 1, 0)
    assert found.utcoffset() == timedelta(hours=3)


def test_range_wholly_inside_the_skipped_hour_never_opens_that_day() -> None:
    ghost = hours(sunday="03:10-03:50", public_holidays="")
    found = next_opening(ghost, TALLINN, utc(2026, 3, 28, 12, 0))
    assert found == local(2026, 4, 5, 3, 10)


def test_repeated_hour_is_open_both_times() -> None:
    night = hours(sunday="03:00-04:00", public_holidays="")
    assert is_open(night, TALLINN, utc(2026, 10, 25, 0, 30))  # 03:30 EEST
    assert is_open(night, TALLINN, utc(2026, 10, 25, 1, 30))  # 03:30 EET, the second time
    assert not is_open(night, TALLINN, utc(2026, 10, 25, 2, 0))  # 04:00 EET


def test_next_opening_in_the_second_pass_of_the_repeated_hour() -> None:
    night = hours(sunday="03:30-05:00", public_holidays="")
    at = utc(2026, 10, 25, 1, 10)  # 03:10 EET, after the clocks went back
    assert not is_open(night, TALLINN, at)
    found = next_opening(night, TALLINN, at)
    assert found is not None
    assert found.astimezone(UTC) == utc(2026, 10, 25, 1, 30)


def test_next_opening_skips_holidays_and_weekend() -> None:
    # Christmas Eve (Thu), Christmas Day (Fri), Second Day (Sat), Sunday: next is Monday the 28th.
    assert next_opening(OFFICE, TALLINN, local(2026, 12, 24, 18, 30)) == local(2026, 12, 28, 9, 0)
    assert next_opening(OFFICE, TALLINN, local(2026, 12, 21, 7, 0)) == local(2026, 12, 21, 9, 0)


def test_next_opening_is_now_when_open() -> None:
    at = local(2026, 12, 21, 10, 0)
    assert next_opening(OFFICE, TALLINN, at) == at


def test_next_opening_is_none_when_never_open() -> None:
    assert next_opening(hours(public_holidays=""), TALLINN, local(2026, 12, 21, 10, 0)) is None


def test_announcement_built_from_hours() -> None:
    assert closed_announcement(OFFICE) == "We answer 9–17 on working days; please leave a call-back request"
    mixed = hours(**WORKDAYS, saturday="10:00-16:00")
    assert describe_week(mixed) == "9–17 on working days and 10–16 on Saturdays"
    split = hours(monday="09:30-12:00, 13:00-17:00")
    assert describe_week(split) == "9:30–12 and 13–17 on Mondays"
    assert closed_announcement(hours()) == "Please leave a call-back request"


# --- properties

SHAPES = [
    OFFICE,
    hours(**{d: "00:00-24:00" for d in ("saturday", "sunday")}, public_holidays=""),
    hours(sunday="03:30-05:00", monday="09:00-12:00, 13:00-17:00", public_holidays="EE"),
    hours(sunday="03:00-04:00", saturday="23:00-24:00", public_holidays="FI"),
]

moments = st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC))


@given(st.sampled_from(SHAPES), moments)
@hsettings(max_examples=300, deadline=None)
def test_next_opening_is_the_first_open_moment(shape: Hours, at: datetime) -> None:
    found = next_opening(shape, TALLINN, at)
    assert found is not None
    # Arithmetic on a datetime in a DST zone is wall-clock arithmetic: step in UTC instead.
    found = found.astimezone(UTC)
    assert found >= at
    assert is_open(shape, TALLINN, found)
    if found > at:
        # Just before the opening it was still closed, and at a midpoint too.
        assert not is_open(shape, TALLINN, max(at, found - timedelta(seconds=1)))
        assert not is_open(shape, TALLINN, at + (found - at) / 2) or found - at < timedelta(seconds=2)


@given(st.sampled_from(SHAPES), moments)
@hsettings(max_examples=200, deadline=None)
def test_open_depends_only_on_the_wall_clock(shape: Hours, at: datetime) -> None:
    wall = at.astimezone(TALLINN)
    # Both readings of an ambiguous wall time get the same answer.
    other = wall.replace(fold=1 - wall.fold)
    assert is_open(shape, TALLINN, wall) == is_open(shape, TALLINN, other)
