"""What the widget sends: a call-token request and a call-back request, checked for a customer.

Messages here are read by the shop's customers, in the widget: they say what to fix in plain
words and never echo the number back. The number is parsed once, here, to E.164.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import phonenumbers
from phonenumbers import PhoneNumberType

from config.schema import Settings
from routing.hours import is_open, rule_for, to_local
from web.contact.countries import country_name
from web.errors import bad_request
from web.validation import body_string, parse_moment

TEAM = "team"
TOKEN_FIELDS = ("target", "page_ref")
CALLBACK_FIELDS = ("number", "staff", "page_ref", "order_ref", "preferred_time")
# the alphabet CallTokens accepts for references; they travel on into the dialplan
REF = re.compile(r"[A-Za-z0-9._:/#-]{1,64}")
REF_HINT = "may only hold letters, digits and . _ : / # - (64 at most)"
_NUMBER_TEXT = re.compile(r"[0-9+ ()./-]{2,32}")
_CALLABLE = frozenset(
    {PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE, PhoneNumberType.FIXED_LINE_OR_MOBILE, PhoneNumberType.VOIP}
)
_REFUSED_KIND = {
    PhoneNumberType.PREMIUM_RATE: "premium-rate numbers",
    PhoneNumberType.SHARED_COST: "shared-cost numbers",
    PhoneNumberType.TOLL_FREE: "free-phone service numbers",
    PhoneNumberType.UAN: "company switchboard numbers",
    PhoneNumberType.PERSONAL_NUMBER: "forwarding numbers",
    PhoneNumberType.PAGER: "pagers",
    PhoneNumberType.VOICEMAIL: "voicemail numbers",
}
# how far ahead a customer may book a call back
MAX_AHEAD = timedelta(days=14)
# a time a little in the past (the customer took a while to press the button) still counts as "now"
GRACE = timedelta(minutes=5)


def target(body: dict[str, Any], settings: Settings, field: str = "target") -> str | None:
    value = body_string(body, field)
    if value is None:
        return None
    if value != TEAM and settings.staff_by_id(value) is None:
        raise bad_request(field, "is not one of the shop's staff or 'team'")
    return value


def ref(body: dict[str, Any], field: str) -> str | None:
    value = body_string(body, field, pattern=REF, hint=REF_HINT)
    return value or None


def _example(region: str) -> str:
    example = phonenumbers.example_number_for_type(region, PhoneNumberType.MOBILE)
    if example is None:
        return "+372 5123 4567"
    return phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def _listing(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def customer_number(body: dict[str, Any], settings: Settings) -> str:
    """The number to call back in E.164, or a 400 on "number" that a customer understands."""
    value = body.get("number")
    example = _example(settings.shop.default_region)
    if not isinstance(value, str) or not value.strip():
        raise bad_request("number", f"Please enter your phone number, e.g. {example}.")
    if not _NUMBER_TEXT.fullmatch(value.strip()):
        raise bad_request("number", f"Please use only digits, spaces and a leading +, e.g. {example}.")
    try:
        parsed = phonenumbers.parse(value, settings.shop.default_region)
    except phonenumbers.NumberParseException:
        parsed = None
    if parsed is None or not phonenumbers.is_valid_number(parsed):
        raise bad_request(
            "number", f"This does not look like a complete phone number. Please check it, e.g. {example}."
        )
    region = phonenumbers.region_code_for_number(parsed)
    allowed = list(settings.shop.allowed_regions)
    if region not in allowed:
        countries = _listing([country_name(r) for r in allowed])
        raise bad_request("number", f"Sorry, we can only call back numbers in {countries}.")
    kind = phonenumbers.number_type(parsed)
    if kind not in _CALLABLE:
        what = _REFUSED_KIND.get(kind, "this kind of number")
        raise bad_request("number", f"Sorry, we cannot call back {what}. Please give a mobile or landline number.")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def preferred_time(body: dict[str, Any], settings: Settings, now: datetime) -> datetime | None:
    value = body_string(body, "preferred_time")
    if value is None:
        return None
    shop = settings.shop
    moment = parse_moment("preferred_time", value, shop.zone)
    if moment < now - GRACE:
        raise bad_request("preferred_time", "This time has already passed. Please pick a later time.")
    if moment > now + MAX_AHEAD:
        raise bad_request("preferred_time", f"Please pick a time within the next {MAX_AHEAD.days} days.")
    if not is_open(shop.hours, shop.zone, moment):
        day = rule_for(shop.hours, to_local(moment, shop.zone).date())
        raise bad_request(
            "preferred_time", f"We are closed at that time ({day.description}). Please pick a time when we are open."
        )
    return moment


@dataclass(frozen=True)
class CallbackRequest:
    number: str
    staff: str
    page_ref: str | None
    order_ref: str | None
    preferred_time: datetime | None


def callback_request(body: dict[str, Any], settings: Settings, now: datetime) -> CallbackRequest:
    return CallbackRequest(
        number=customer_number(body, settings),
        staff=target(body, settings, "staff") or TEAM,
        page_ref=ref(body, "page_ref"),
        order_ref=ref(body, "order_ref"),
        preferred_time=preferred_time(body, settings, now),
    )
