"""Checks on everything that enters masking from outside, before it can reach a store or a dial string.

References end up in AGI variables, SIP headers and URLs, so they keep to a small alphabet
(a CR or LF there is an injection). Numbers are parsed once to E.164 and must be ones a
private person answers: a premium-rate or shared-cost number in a session would let anyone
who can open sessions make the shop pay for calls to it. Messages never repeat the number.
"""

from __future__ import annotations

import re
from datetime import timedelta

import phonenumbers
from phonenumbers import PhoneNumberType

from config.schema import parse_e164
from masking.errors import MaskingInputError

_REF = re.compile(r"[A-Za-z0-9._:/-]{1,64}")
# What a person may type around the digits; letters (vanity numbers, "ext.") and '#' are out.
_NUMBER_TEXT = re.compile(r"[0-9+ ()./-]{2,32}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_DIALLABLE = frozenset(
    {
        PhoneNumberType.MOBILE,
        PhoneNumberType.FIXED_LINE,
        PhoneNumberType.FIXED_LINE_OR_MOBILE,
        PhoneNumberType.VOIP,
    }
)
_TYPE_NAMES = {
    PhoneNumberType.PREMIUM_RATE: "a premium-rate number",
    PhoneNumberType.SHARED_COST: "a shared-cost number",
    PhoneNumberType.TOLL_FREE: "a toll-free service number",
    PhoneNumberType.PERSONAL_NUMBER: "a personal (forwarding) number",
    PhoneNumberType.UAN: "a company access number",
    PhoneNumberType.PAGER: "a pager number",
    PhoneNumberType.VOICEMAIL: "a voicemail access number",
    PhoneNumberType.UNKNOWN: "a number of unknown type",
}
MAX_TTL = timedelta(days=90)
_WITHHELD = frozenset({"", "anonymous", "restricted", "private", "unknown", "unavailable", "withheld"})


def is_ref(value: object) -> bool:
    # fullmatch, not `^...$`: `$` also matches before a trailing newline.
    return isinstance(value, str) and _REF.fullmatch(value) is not None


def check_ref(field: str, value: object) -> str:
    if not isinstance(value, str):
        raise MaskingInputError(field, "must be a string")
    if not value:
        raise MaskingInputError(field, "is required")
    if _CONTROL.search(value):
        raise MaskingInputError(field, "contains a line break or control character")
    if not is_ref(value):
        raise MaskingInputError(
            field, "use 1-64 characters from letters, digits and . _ : / - (no spaces)"
        )
    return value


def check_optional_ref(field: str, value: object) -> str | None:
    return None if value is None else check_ref(field, value)


def check_number(field: str, value: object, default_region: str, allowed_regions: tuple[str, ...]) -> str:
    """Return the number in E.164, or raise MaskingInputError naming `field`."""
    if not isinstance(value, str):
        raise MaskingInputError(field, "must be a string, e.g. \"+372 5123 4567\"")
    if not value.strip():
        raise MaskingInputError(field, "is required, e.g. \"+372 5123 4567\"")
    if _CONTROL.search(value):
        raise MaskingInputError(field, "contains a line break or control character")
    if not _NUMBER_TEXT.fullmatch(value):
        raise MaskingInputError(
            field, "may contain only digits, a leading '+', spaces and ( ) . / -, e.g. \"+372 5123 4567\""
        )
    try:
        e164 = parse_e164(value, default_region)
    except ValueError:
        raise MaskingInputError(
            field, "is not a valid phone number; write it in international form, e.g. \"+372 5123 4567\""
        ) from None
    parsed = phonenumbers.parse(e164)
    region = phonenumbers.region_code_for_number(parsed)
    if region not in allowed_regions:
        raise MaskingInputError(
            field,
            f"numbers from region {region or 'unknown'} are not accepted; allowed: {', '.join(allowed_regions)}"
            " (shop.allowed_regions)",
        )
    kind = phonenumbers.number_type(parsed)
    if kind not in _DIALLABLE:
        raise MaskingInputError(
            field, f"is {_TYPE_NAMES.get(kind, 'not a personal number')}; give a mobile or landline number"
        )
    return e164


def check_ttl(value: object) -> timedelta:
    if not isinstance(value, timedelta):
        raise MaskingInputError("ttl", "must be a duration")
    if value <= timedelta(0) or value > MAX_TTL:
        raise MaskingInputError("ttl", f"must be more than 0 and at most {MAX_TTL.days} days")
    return value


def is_withheld(caller: str | None) -> bool:
    """True when the network gave no usable caller number (absent, "anonymous", no digits)."""
    return caller is None or caller.strip().lower() in _WITHHELD or not any(ch.isdigit() for ch in caller)


def parse_incoming(value: str, default_region: str) -> str | None:
    """A number handed over by the PBX, in E.164, or None when it does not parse."""
    if not isinstance(value, str) or _CONTROL.search(value) or len(value) > 32:
        return None
    try:
        return parse_e164(value.strip(), default_region)
    except ValueError:
        return None
