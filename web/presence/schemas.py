"""What the widget may know about presence: id, name, photo and a three-state dot, nothing more.

No device state, no self-set status ("dnd", "walk_in"), no call counts: a customer needs to
know whether to expect an answer, not what the staff are doing.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from config.schema import Settings, Staff
from routing.hours import is_open, rule_for, to_local
from routing.presence import PresenceSnapshot

AVAILABLE, BUSY, OFFLINE = "available", "busy", "offline"


def person(staff: Staff, state: str) -> dict[str, Any]:
    return {"id": staff.id, "name": staff.name, "photo_url": staff.photo_url or None, "state": state}


def team_state(states: Iterable[str]) -> str:
    """The team's dot: green if anyone can answer, red if everyone online is on a call."""
    seen = set(states)
    if AVAILABLE in seen:
        return AVAILABLE
    return BUSY if BUSY in seen else OFFLINE


def public_states(settings: Settings, snapshot: PresenceSnapshot) -> dict[str, str]:
    return {p.id: snapshot.get(p.id).public_state for p in settings.staff}


def opening(settings: Settings, now: datetime) -> dict[str, Any]:
    shop = settings.shop
    today = rule_for(shop.hours, to_local(now, shop.zone).date())
    return {"open_now": is_open(shop.hours, shop.zone, now), "hours": today.description}


def full_presence(settings: Settings, states: dict[str, str], now: datetime) -> dict[str, Any]:
    return {
        "staff": [person(p, states.get(p.id, OFFLINE)) for p in settings.staff],
        "team": team_state(states.values()),
        **opening(settings, now),
    }


def change(settings: Settings, staff: Staff, states: dict[str, str], now: datetime) -> dict[str, Any]:
    return {
        "type": "change",
        "staff": [person(staff, states.get(staff.id, OFFLINE))],
        "team": team_state(states.values()),
        "open_now": opening(settings, now)["open_now"],
    }
