"""Reading requests: JSON bodies and query parameters, each failure a 400 naming its field.

Every string that arrives in a JSON body is checked for line breaks, control characters and
text shaped like a SIP header before any handler sees it: those values may end up in AMI
fields, dial strings or SIP headers, where a CR/LF is an injection, not a typo.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Mapping
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from web.errors import ApiError, bad_request

# C0/C1 controls and the Unicode line separators some parsers also treat as line breaks
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
# Text shaped like a SIP header: "Name: value" (a colon and a space, as headers are written),
# or a header only SIP uses, even written tightly ("Via:SIP/2.0", "X-Tugi-Case:1"). No reference,
# number or time we accept looks like either, and both are what header injection looks like.
_SIP_HEADER = re.compile(
    r"(?i)(?:(?:^|[\s;,])[a-z][a-z0-9-]*[ \t]*:[ \t]+\S"
    r"|(?:^|[\s;,])(?:via|call-id|cseq|max-forwards|contact|record-route|refer-to|referred-by|"
    r"remote-party-id|diversion|p-[a-z0-9-]+|x-[a-z0-9-]+)[ \t]*:)"
)
REF = re.compile(r"[A-Za-z0-9._:@/#+-]{1,128}")
STAFF_ID = re.compile(r"[a-z][a-z0-9_-]{0,38}")
_TRUE = {"1", "true", "yes"}
_FALSE = {"0", "false", "no", ""}
# "+" in a query string decodes to a space: "…T10:00:00 02:00" was meant as "+02:00"
_SPACED_OFFSET = re.compile(r" (\d{2}(?::?\d{2})?)$")


def check_text(field: str, value: str) -> str:
    if _CONTROL.search(value):
        raise bad_request(field, "contains a line break or control character; remove it")
    if _SIP_HEADER.search(value):
        raise bad_request(field, "looks like a SIP header ('Name: value'); send only the value itself")
    return value


def _check_strings(field: str, value: Any) -> None:
    if isinstance(value, str):
        check_text(field, value)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_strings(f"{field}[{index}]", item)
    elif isinstance(value, dict):
        for key, item in value.items():
            check_text(field, key)
            _check_strings(f"{field}.{key}", item)


async def read_json(
    request: web.Request, fields: Collection[str], required: Collection[str] = ()
) -> dict[str, Any]:
    """The body as a JSON object holding only `fields`, all `required` ones present and non-null."""
    if request.content_type != "application/json":
        raise ApiError(415, "send the body as JSON with 'Content-Type: application/json'")
    raw = await request.read()
    try:
        body = json.loads(raw or b"null")
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "the body is not valid JSON") from None
    if not isinstance(body, dict):
        raise ApiError(400, "the body must be a JSON object, e.g. {\"field\": \"value\"}")
    for key, value in body.items():
        check_text("body", key)
        if key not in fields:
            raise bad_request(key, f"unknown field; this request takes {', '.join(sorted(fields))}")
        _check_strings(key, value)
    for key in required:
        if body.get(key) is None:
            raise bad_request(key, "is required")
    return body


def body_string(body: Mapping[str, Any], field: str, *, pattern: re.Pattern[str] | None = None,
                hint: str = "") -> str | None:
    """An optional string field; None when absent or null."""
    value = body.get(field)
    if value is None:
        return None
    if not isinstance(value, str):
        raise bad_request(field, "must be a string")
    if pattern is not None and not pattern.fullmatch(value):
        raise bad_request(field, hint or "has characters that are not allowed")
    return value


def body_number(body: Mapping[str, Any], field: str, *, minimum: float, maximum: float) -> float | None:
    value = body.get(field)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise bad_request(field, "must be a number")
    if not minimum < value <= maximum:
        raise bad_request(field, f"must be more than {minimum:g} and at most {maximum:g}")
    return float(value)


class Query:
    """The query string of one request, read parameter by parameter; unknown ones are refused."""

    def __init__(self, request: web.Request, allowed: Collection[str]) -> None:
        self._query = request.query
        for name in self._query:
            if name not in allowed:
                raise bad_request(name, f"unknown parameter; this endpoint takes {', '.join(sorted(allowed))}")
            if len(self._query.getall(name)) > 1:
                raise bad_request(name, "is given more than once")
            check_text(name, self._query[name])

    def text(self, name: str, pattern: re.Pattern[str] = REF, hint: str = "") -> str | None:
        value = self._query.get(name)
        if value is None or value == "":
            return None
        if not pattern.fullmatch(value):
            raise bad_request(name, hint or "has characters that are not allowed")
        return value

    def choice(self, name: str, choices: Collection[str]) -> str | None:
        value = self._query.get(name)
        if value is None or value == "":
            return None
        if value not in choices:
            raise bad_request(name, f"must be one of {', '.join(choices)}")
        return value

    def integer(self, name: str, default: int, minimum: int, maximum: int) -> int:
        value = self._query.get(name)
        if value is None or value == "":
            return default
        if not value.isascii() or not value.isdigit():
            raise bad_request(name, f"must be a whole number from {minimum} to {maximum}")
        number = int(value)
        if not minimum <= number <= maximum:
            raise bad_request(name, f"must be a whole number from {minimum} to {maximum}")
        return number

    def flag(self, name: str) -> bool:
        value = (self._query.get(name) or "").lower()
        if value in _TRUE:
            return True
        if value in _FALSE:
            return False
        raise bad_request(name, "must be 1 or 0")

    def moment(self, name: str, zone: ZoneInfo) -> datetime | None:
        value = self._query.get(name)
        if value is None or value == "":
            return None
        return parse_moment(name, value, zone)


def parse_moment(field: str, value: str, zone: ZoneInfo) -> datetime:
    """An ISO-8601 date or date-time; without an offset it is read in the shop's time zone."""
    text = _SPACED_OFFSET.sub(r"+\1", value.strip()) if "T" in value else value.strip()
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), time(0), tzinfo=zone)
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise bad_request(
            field, "is not an ISO-8601 date or time, e.g. 2026-03-02 or 2026-03-02T10:00:00+02:00"
            " (write '+' as %2B in a URL)"
        ) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=zone)
