"""Dial strings and header values built only from validated parts.

A dial string made from outside input can carry `&PJSIP/other/...` or `,options`; every part
here comes from the configuration's safe ids or from an E.164 number checked again here.
"""

from __future__ import annotations

import re

from config.schema import Settings
from routing.model import Target

_E164 = re.compile(r"^\+[1-9][0-9]{1,14}$")
_ENDPOINT = re.compile(r"^[a-z][a-z0-9_-]{0,38}$")
_REFERENCE = re.compile(r"^[A-Za-z0-9._:/#-]{1,64}$")


class UnsafeDialTarget(ValueError):
    pass


def staff_channel(endpoint: str) -> str:
    if not _ENDPOINT.match(endpoint):
        raise UnsafeDialTarget(f"endpoint {endpoint!r} is not a safe id")
    return f"PJSIP/{endpoint}"


def carrier_channel(number: str) -> str:
    if not _E164.match(number):
        raise UnsafeDialTarget("not an E.164 number")
    return f"PJSIP/{number}@carrier"


def outsourced_channel(settings: Settings) -> str:
    return f"PJSIP/{settings.outsourced.user}@outsourced"


def dial_string(targets: tuple[Target, ...], settings: Settings) -> str:
    parts = []
    for target in targets:
        if target.kind in ("staff", "showroom"):
            person = settings.staff_by_id(target.ref)
            if person is None:
                raise UnsafeDialTarget(f"unknown staff id {target.ref!r}")
            parts.append(staff_channel(person.endpoint))
        elif target.kind == "outsourced":
            parts.append(outsourced_channel(settings))
        elif target.kind == "external":
            parts.append(carrier_channel(target.ref))
        else:
            raise UnsafeDialTarget(f"unknown target kind {target.kind!r}")
    return "&".join(parts)


def safe_reference(value: str | None) -> str:
    """A case/order/page reference fit for a SIP header, or '' when it is not."""
    return value if value and _REFERENCE.match(value) else ""
