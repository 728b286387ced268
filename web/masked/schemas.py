"""Masked-call sessions in and out: the create request, the back-office view, the courier view.

Only the back office ever sees a real number, and only when it asks (`include_numbers=1`);
otherwise numbers leave masked ("+372•••••01"). The courier view has no customer field at
all, so no later change can leak one into it by accident.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from history.protect import mask_number
from masking.model import MaskingSession, Participant
from web.validation import body_number, body_string

CREATE_FIELDS = (
    "order_ref", "customer_ref", "customer_number", "courier_ref", "courier_number", "case_ref", "ttl_hours",
)
CREATE_REQUIRED = ("order_ref", "customer_ref", "customer_number", "courier_ref", "courier_number")
MAX_TTL_HOURS = 24 * 90
# masking names the lifetime "ttl"; the API calls it "ttl_hours"
FIELD_NAMES = {"ttl": "ttl_hours"}


def create_arguments(body: dict[str, Any]) -> dict[str, Any]:
    """Keyword arguments for MaskingService.open_session; masking itself checks the values."""
    arguments: dict[str, Any] = {name: body_string(body, name) for name in CREATE_REQUIRED}
    arguments["case_ref"] = body_string(body, "case_ref")
    hours = body_number(body, "ttl_hours", minimum=0, maximum=MAX_TTL_HOURS)
    arguments["ttl"] = None if hours is None else timedelta(hours=hours)
    return arguments


def iso(moment: datetime | None) -> str | None:
    """Times leave in UTC, as the history's do, whatever zone the store or the clock used."""
    return None if moment is None else moment.astimezone(UTC).isoformat()


def state(session: MaskingSession, now: datetime) -> str:
    if session.closed_at is not None or session.erased:
        return "closed"
    return "expired" if now >= session.expires_at else "live"


def dials(session: MaskingSession) -> str:
    """What a party dials: the proxy number, then — in single-number mode — the PIN after a pause.

    "," is the pause of a phone's dial string, so tapping the value dials the PIN as tones
    once the call is answered and the PIN prompt plays.
    """
    return session.proxy_number if session.pin is None else f"{session.proxy_number},,{session.pin}"


def created(session: MaskingSession) -> dict[str, Any]:
    return {
        "id": session.id,
        "proxy_number": session.proxy_number,
        "pin": session.pin,
        "customer_dials": dials(session),
        "courier_dials": dials(session),
        "expires_at": iso(session.expires_at),
    }


def _party(participant: Participant, include_numbers: bool) -> dict[str, Any]:
    number = participant.number
    if number is not None and not include_numbers:
        number = mask_number(number)
    return {"ref": participant.ref, "number": number}


def back_office_view(session: MaskingSession, now: datetime, include_numbers: bool) -> dict[str, Any]:
    return {
        "id": session.id,
        "state": state(session, now),
        "order_ref": session.order_ref,
        "case_ref": session.case_ref,
        "customer": _party(session.customer, include_numbers),
        "courier": _party(session.courier, include_numbers),
        "proxy_number": session.proxy_number,
        "pin": session.pin,
        "customer_dials": dials(session),
        "courier_dials": dials(session),
        "created_at": iso(session.created_at),
        "expires_at": iso(session.expires_at),
        "closed_at": iso(session.closed_at),
        "erased": session.erased,
    }


def courier_view(session: MaskingSession, now: datetime) -> dict[str, Any]:
    return {
        "id": session.id,
        "state": state(session, now),
        "order_ref": session.order_ref,
        "proxy_number": session.proxy_number,
        "pin": session.pin,
        "dial": dials(session),
        "expires_at": iso(session.expires_at),
    }
