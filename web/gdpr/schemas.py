"""The erasure request: one customer id, as the history and masking know it."""

from __future__ import annotations

from typing import Any

from web.errors import bad_request
from web.validation import REF

FIELDS = ("customer_id",)


def customer_id(body: dict[str, Any]) -> str:
    value = body["customer_id"]
    if not isinstance(value, str) or not REF.fullmatch(value):
        raise bad_request("customer_id", "is not a customer id; use up to 128 letters, digits and . _ : @ / # + -")
    return value
