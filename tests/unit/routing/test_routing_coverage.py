from __future__ import annotations

from datetime import date

from config.loader import load_settings, parse_settings
from routing.coverage import unreachable_hours
from tugi.checks import warnings_for

TODAY = date(2026, 6, 1)
DISABLED = '[outsourced]\nenabled = false\nname = "Partner"\n'
NO_SHOWROOM_STAFF = """
[[staff]]
id = "mari"
name = "Mari"
extension = "101"
secret = "s"
"""


def test_round_the_clock_outsourced_leaves_no_gap(settings) -> None:
    assert unreachable_hours(settings, TODAY) == []


def test_shipped_example_has_no_gap() -> None:
    from config.loader import example_path

    assert unreachable_hours(load_settings(example_path()), TODAY) == []


def test_weekday_gaps_are_grouped_and_worded(make_settings) -> None:
    settings = make_settings(staff=NO_SHOWROOM_STAFF, outsourced=DISABLED)
    warnings = unreachable_hours(settings, TODAY)
    why = "nobody answers — the shop is closed and the outsourced centre is disabled"
    assert warnings[:3] == [
        f"Monday–Friday 00:00-09:00: {why}",
        f"Monday–Friday 17:00-24:00: {why}",
        f"Saturday–Sunday all day: {why}",
    ]
    assert f"2026-06-23 (Victory Day, Tuesday) all day: {why}" in warnings
    assert f"2026-12-24 (Christmas Eve, Thursday) all day: {why}" in warnings
    assert f"2026-12-31 (short day, Thursday) 13:00-24:00: {why}" in warnings
    # A holiday on a weekend day changes nothing, so it is not repeated.
    assert not any(w.startswith("2026-12-26") for w in warnings)


def test_the_leads_saturday_example(make_settings) -> None:
    shop = """
[shop]
name = "Test shop"
[shop.hours]
saturday = "10:00-16:00"
"""
    showroom = '[showroom]\n[showroom.hours]\nsaturday = "10:00-16:00"\n'
    settings = make_settings(shop=shop, showroom=showroom, outsourced=DISABLED)
    assert (
        "Saturday 16:00-24:00: nobody answers — the shop and showroom are closed and the outsourced centre is disabled"
    ) in unreachable_hours(settings, TODAY)


def test_the_showroom_answers_in_its_own_hours_while_the_shop_is_closed(make_settings) -> None:
    settings = make_settings(outsourced=DISABLED)
    warnings = unreachable_hours(settings, TODAY)
    saturday = [w for w in warnings if w.startswith("Saturday ")]
    assert [w.split(":", 1)[0] + w[w.index(":") : w.index(":") + 9] for w in saturday] == [
        "Saturday 00:00-10:00", "Saturday 16:00-24:00"
    ]


def test_outsourced_hours_with_a_gap(make_settings) -> None:
    outsourced = """
[outsourced]
[outsourced.hours]
public_holidays = ""
monday = "17:00-22:00"
tuesday = "17:00-22:00"
wednesday = "17:00-22:00"
thursday = "17:00-22:00"
friday = "17:00-22:00"
saturday = "00:00-24:00"
sunday = "00:00-24:00"
"""
    settings = make_settings(staff=NO_SHOWROOM_STAFF, outsourced=outsourced)
    warnings = unreachable_hours(settings, TODAY)
    why = "nobody answers — the shop is closed and the outsourced centre is closed"
    assert warnings[:2] == [f"Monday–Friday 00:00-09:00: {why}", f"Monday–Friday 22:00-24:00: {why}"]
    assert f"2026-06-24 (Midsummer Day, Wednesday) 00:00-17:00: {why}" in warnings


def test_shop_open_without_staff(make_settings) -> None:
    settings = make_settings(staff="", outsourced=DISABLED)
    assert any("the shop is open but has no staff" in w for w in unreachable_hours(settings, TODAY))


def test_config_check_warnings_include_coverage() -> None:
    text = """
[shop]
name = "Tiny"
[outsourced]
enabled = false
[asterisk]
ami_secret = "s"
[[staff]]
id = "mari"
name = "Mari"
extension = "101"
secret = "s"
"""
    warnings = warnings_for(parse_settings(text))
    assert any(w.startswith("Saturday–Sunday all day: nobody answers") for w in warnings)
