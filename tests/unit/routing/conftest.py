"""Settings for the routing tests, built from small TOML texts the way a shop writes them."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from config.loader import parse_settings
from config.schema import Settings

SHOP = """
[shop]
name = "Test shop"
timezone = "Europe/Tallinn"

[shop.hours]
monday = "09:00-17:00"
tuesday = "09:00-17:00"
wednesday = "09:00-17:00"
thursday = "09:00-17:00"
friday = "09:00-17:00"
public_holidays = "EE"

[[shop.hours.exceptions]]
date = "2026-12-31"
hours = "09:00-13:00"
note = "short day"
"""

STAFF = """
[[staff]]
id = "mari"
name = "Mari"
extension = "101"
secret = "s-mari"
skills = ["sales", "delivery"]
languages = ["et", "en"]

[[staff]]
id = "jaan"
name = "Jaan"
extension = "102"
secret = "s-jaan"
skills = ["returns", "delivery"]
languages = ["et", "ru"]

[[staff]]
id = "kati"
name = "Kati"
extension = "104"
secret = "s-kati"
skills = ["sales"]
languages = ["et"]
max_calls = 2

[[staff]]
id = "liis"
name = "Liis"
extension = "103"
secret = "s-liis"
skills = ["sales"]
languages = ["et", "en", "fi"]
showroom = true
"""

SHOWROOM = """
[showroom]
name = "Showroom"
ring_seconds = 25

[showroom.hours]
monday = "10:00-18:00"
tuesday = "10:00-18:00"
wednesday = "10:00-18:00"
thursday = "10:00-18:00"
friday = "10:00-18:00"
saturday = "10:00-16:00"
"""

OUTSOURCED = """
[outsourced]
enabled = true
name = "Partner"
user = "testshop"
ring_seconds = 60
"""

ROUTING = """
[routing]
strategy = "ring_all"
person_ring_seconds = 15
team_ring_seconds = 20
prefer_last_handler = true
"""

ASTERISK = """
[asterisk]
ami_secret = "s-ami"
"""

SettingsFactory = Callable[..., Settings]


def build_settings(
    shop: str = SHOP,
    staff: str = STAFF,
    showroom: str = SHOWROOM,
    outsourced: str = OUTSOURCED,
    routing: str = ROUTING,
) -> Settings:
    """Any section can be swapped for another TOML text; the rest stay the standard test shop."""
    return parse_settings("\n".join([shop, staff, showroom, outsourced, routing, ASTERISK]), "<test>")


@pytest.fixture(scope="session")
def make_settings() -> SettingsFactory:
    return build_settings


@pytest.fixture(scope="session")
def settings() -> Settings:
    return build_settings()
