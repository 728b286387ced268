"""The status a person sets themselves, as the staff app or back office sends it."""

from __future__ import annotations

from typing import Any

from routing.presence import SelfStatus
from web.errors import bad_request

FIELDS = ("status",)
STATUSES = tuple(s.value for s in SelfStatus)


def status(body: dict[str, Any]) -> SelfStatus:
    value = body["status"]
    if not isinstance(value, str) or value not in STATUSES:
        raise bad_request("status", f"must be one of {', '.join(STATUSES)}")
    return SelfStatus(value)
