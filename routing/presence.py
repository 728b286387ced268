"""Who can take a call right now: phone state from Asterisk plus the status people set themselves.

The snapshot is immutable and every update returns a new one, so the AMI listener can swap it
in one assignment and a routing decision always reads one consistent picture.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from enum import Enum, StrEnum
from types import MappingProxyType

from routing.hours import require_aware


class DeviceState(Enum):
    """Asterisk device states, named as AMI `DeviceStateChange` writes them."""

    UNKNOWN = "UNKNOWN"
    NOT_INUSE = "NOT_INUSE"
    INUSE = "INUSE"
    BUSY = "BUSY"
    INVALID = "INVALID"
    UNAVAILABLE = "UNAVAILABLE"
    RINGING = "RINGING"
    RINGINUSE = "RINGINUSE"
    ONHOLD = "ONHOLD"

    @classmethod
    def from_ami(cls, text: str) -> DeviceState:
        """Parse "NOT_INUSE", "Not in use", "Ring+Inuse", "InUse&Hold"…; UNKNOWN if unrecognised.

        Unrecognised text maps to UNKNOWN rather than raising: an event from a newer Asterisk
        must not take presence down, and UNKNOWN is never treated as free by itself.
        """
        key = re.sub(r"[^A-Z]", "", (text or "").upper())
        return _ALIASES.get(key, cls.UNKNOWN)


# Keys have every non-letter removed, so "NOT_INUSE" and "Not in use" meet at "NOTINUSE".
# The second group is ExtensionStatus's StatusText, which pbx_bridge may also hand us.
_ALIASES: dict[str, DeviceState] = {
    **{state.name.replace("_", ""): state for state in DeviceState},
    "RINGINUSE": DeviceState.RINGINUSE,
    "IDLE": DeviceState.NOT_INUSE,
    "HOLD": DeviceState.ONHOLD,
    "INUSERINGING": DeviceState.RINGINUSE,
    "INUSEHOLD": DeviceState.ONHOLD,
}

# States in which the phone already carries a call (it counts toward max_calls).
_CARRYING_CALL = frozenset({DeviceState.INUSE, DeviceState.ONHOLD, DeviceState.RINGINUSE})
# States in which no new call should be offered, whatever max_calls says.
_REFUSING = {
    DeviceState.UNAVAILABLE: "phone unavailable",
    DeviceState.INVALID: "phone not configured in Asterisk",
    DeviceState.BUSY: "phone reports busy",
    DeviceState.RINGING: "phone already ringing",
    DeviceState.RINGINUSE: "phone already ringing",
}


class SelfStatus(StrEnum):
    """What a person says about themselves in the staff app."""

    AVAILABLE = "available"
    AWAY = "away"
    DND = "dnd"
    WALK_IN = "walk_in"  # serving a customer in person on the showroom floor


_STATUS_REASON = {
    SelfStatus.AWAY: "set themselves away",
    SelfStatus.DND: "set do-not-disturb",
    SelfStatus.WALK_IN: "serving a walk-in customer",
}

PUBLIC_STATES = ("available", "busy", "offline")


@dataclass(frozen=True)
class PersonPresence:
    staff_id: str
    device: DeviceState = DeviceState.UNKNOWN
    registered: bool = False
    status: SelfStatus = SelfStatus.AVAILABLE
    active_calls: int = 0
    last_call_ended_at: datetime | None = None

    @property
    def online(self) -> bool:
        return self.registered and self.device not in (DeviceState.UNAVAILABLE, DeviceState.INVALID)

    @property
    def calls_in_progress(self) -> int:
        # A call Tugi did not track (dialled straight from the desk phone) still shows on the device.
        return max(self.active_calls, 1 if self.device in _CARRYING_CALL else 0)

    @property
    def public_state(self) -> str:
        """ "available", "busy" or "offline": the dot the web widget shows, nothing more."""
        if not self.online or self.status is SelfStatus.AWAY:
            return "offline"
        if self.status is not SelfStatus.AVAILABLE or self.device in _REFUSING or self.calls_in_progress:
            return "busy"
        return "available"

    def unreachable_reason(self, max_calls: int) -> str | None:
        """Why a new call must not ring this person now, or None if it may."""
        if not self.registered:
            return "phone not registered (offline)"
        if self.device in _REFUSING:
            return _REFUSING[self.device]
        if self.status is not SelfStatus.AVAILABLE:
            return _STATUS_REASON[self.status]
        if self.calls_in_progress >= max_calls:
            calls = self.calls_in_progress
            return f"already on {calls} call{'s' if calls > 1 else ''} (takes at most {max_calls})"
        return None

    def is_reachable(self, max_calls: int) -> bool:
        return self.unreachable_reason(max_calls) is None


class PresenceSnapshot(Mapping[str, PersonPresence]):
    """An immutable staff_id → PersonPresence map; `.get` answers offline for anyone unknown."""

    __slots__ = ("_people",)

    def __init__(self, people: Iterable[PersonPresence] = ()) -> None:
        self._people: Mapping[str, PersonPresence] = MappingProxyType({p.staff_id: p for p in people})

    def __getitem__(self, staff_id: str) -> PersonPresence:
        return self._people[staff_id]

    def __iter__(self) -> Iterator[str]:
        return iter(self._people)

    def __len__(self) -> int:
        return len(self._people)

    def __repr__(self) -> str:
        return f"PresenceSnapshot({list(self._people.values())!r})"

    def get(self, staff_id: str, default: PersonPresence | None = None) -> PersonPresence:  # type: ignore[override]
        found = self._people.get(staff_id)
        if found is not None:
            return found
        return default if default is not None else PersonPresence(staff_id)

    def with_person(self, person: PersonPresence) -> PresenceSnapshot:
        # Every device-state event comes here twice (registration, then state), mostly without
        # a change; copying the map of the whole staff for nothing was a cost per call that
        # grew with the team (bench/call_setup.py).
        if self._people.get(person.staff_id) == person:
            return self
        people = dict(self._people)
        people[person.staff_id] = person  # an update keeps the person's place in the order
        return PresenceSnapshot(people.values())

    @classmethod
    def all_available(cls, staff_ids: Iterable[str]) -> PresenceSnapshot:
        """Everyone registered, idle and available: the picture to plan against before any event."""
        return cls(PersonPresence(s, DeviceState.NOT_INUSE, registered=True) for s in staff_ids)


def apply_device_state(snapshot: PresenceSnapshot, staff_id: str, state: DeviceState | str) -> PresenceSnapshot:
    if isinstance(state, str):
        state = DeviceState.from_ami(state)
    return snapshot.with_person(replace(snapshot.get(staff_id), device=state))


def apply_registration(snapshot: PresenceSnapshot, staff_id: str, registered: bool) -> PresenceSnapshot:
    return snapshot.with_person(replace(snapshot.get(staff_id), registered=registered))


def apply_self_status(snapshot: PresenceSnapshot, staff_id: str, status: SelfStatus | str) -> PresenceSnapshot:
    return snapshot.with_person(replace(snapshot.get(staff_id), status=SelfStatus(status)))


def call_started(snapshot: PresenceSnapshot, staff_id: str) -> PresenceSnapshot:
    person = snapshot.get(staff_id)
    return snapshot.with_person(replace(person, active_calls=person.active_calls + 1))


def call_ended(snapshot: PresenceSnapshot, staff_id: str, at: datetime) -> PresenceSnapshot:
    """One call of this person ended at `at`; the count never goes below zero (events can repeat)."""
    require_aware(at)
    person = snapshot.get(staff_id)
    return snapshot.with_person(replace(person, active_calls=max(0, person.active_calls - 1), last_call_ended_at=at))
