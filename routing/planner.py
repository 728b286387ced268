"""Who rings, in what order, for how long, and what happens when nobody answers.

`plan_call` is the one decision the AGI and HTTP paths ask for. It reads the clock it is given,
a presence snapshot and the settings, and returns a `Plan`; it never looks anything up itself.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

from config.schema import Settings, Staff
from routing.announcement import NOBODY_FREE, closed_announcement
from routing.hours import next_opening, open_state, require_aware
from routing.model import CallKind, CallRequest, Fallback, Plan, RingStep, Target, TargetKind
from routing.presence import PresenceSnapshot
from routing.strategies import DESCRIPTIONS, order_team

# No setting covers how long an outside number may ring; the carrier usually gives up first.
OUTBOUND_RING_SECONDS = 60

_E164 = re.compile(r"^\+[1-9][0-9]{1,14}$")


@dataclass
class _Draft:
    """The plan while it is being built; only `finish` makes the frozen `Plan`."""

    steps: list[RingStep] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    rung: set[str] = field(default_factory=set)

    def ring(self, kind: TargetKind, people: list[Staff], seconds: int, reason: str, label: str) -> None:
        targets = tuple(Target(kind, p.id) for p in people)
        self.steps.append(RingStep(targets, seconds, reason, label))
        self.rung.update(p.id for p in people)

    def skip(self, staff_id: str, why: str) -> None:
        # The first reason is the one that decided; later stages would only repeat it.
        self.skipped.setdefault(staff_id, why)

    def finish(self, fallback: Fallback) -> Plan:
        skipped = tuple((s, w) for s, w in self.skipped.items() if s not in self.rung)
        return Plan(tuple(self.steps), fallback, tuple(self.reasons), skipped)


def plan_call(
    request: CallRequest,
    at: datetime,
    presence: PresenceSnapshot,
    settings: Settings,
    rotation: int = 0,
) -> Plan:
    """Plan one call arriving at the aware moment `at`; `rotation` feeds round_robin."""
    require_aware(at)
    if request.kind is CallKind.MASKED:
        raise ValueError("masked calls are resolved by the masking package, not planned by routing")
    if request.kind is CallKind.INTERNAL:
        return _plan_internal(request, presence, settings)
    if request.kind is CallKind.OUTBOUND:
        return _plan_outbound(request)
    return _plan_customer(request, at, presence, settings, rotation)


def _plan_internal(request: CallRequest, presence: PresenceSnapshot, settings: Settings) -> Plan:
    if not request.dialled:
        raise ValueError("an internal call needs the dialled extension in CallRequest.dialled")
    draft = _Draft()
    callee = next((s for s in settings.staff if s.extension == request.dialled), None)
    if callee is None:
        draft.reasons.append(f"extension {request.dialled} belongs to nobody on the staff")
        return draft.finish(Fallback("none", f"no staff member has extension {request.dialled}"))
    why = presence.get(callee.id).unreachable_reason(callee.max_calls)
    if why:
        draft.skip(callee.id, why)
        draft.reasons.append(f"{callee.id} cannot take the call: {why}")
        return draft.finish(Fallback("none", f"{callee.id} cannot take calls now"))
    draft.reasons.append(f"extension {request.dialled} is {callee.id}")
    reason = f"internal call to extension {request.dialled}"
    draft.ring("staff", [callee], settings.routing.person_ring_seconds, reason, "colleague")
    return draft.finish(Fallback("none", "an internal call ends when the colleague does not answer"))


def _plan_outbound(request: CallRequest) -> Plan:
    if not request.dialled or not _E164.match(request.dialled):
        raise ValueError(f"an outbound call needs an E.164 number in CallRequest.dialled, got {request.dialled!r}")
    step = RingStep(
        (Target("external", request.dialled),), OUTBOUND_RING_SECONDS, "a staff phone dialling out", "outbound"
    )
    return Plan((step,), Fallback("none", "an outbound call ends when the other side does not answer"), (), ())


def _plan_customer(
    request: CallRequest, at: datetime, presence: PresenceSnapshot, settings: Settings, rotation: int
) -> Plan:
    draft = _Draft()
    shop = open_state(settings.shop.hours, settings.shop.zone, at)
    if not shop.is_open:
        # The showroom keeps hours of its own (often Saturdays): while it is open its specialist
        # still answers, even when the shop's phone line is closed.
        draft.reasons.append(f"the shop is closed ({shop.reason}); its team is not rung")
        _showroom(draft, at, presence, settings)
        return draft.finish(_fallback(settings, at, shop_open=False))
    draft.reasons.append(f"the shop is open ({shop.reason})")
    _requested_person(draft, request, presence, settings)
    _last_handler(draft, request, presence, settings)
    _team(draft, request, presence, settings, rotation)
    _showroom(draft, at, presence, settings)
    if not draft.steps:
        draft.reasons.append("nobody in the shop is free to answer; going straight to the fallback")
    return draft.finish(_fallback(settings, at, shop_open=True))


def _ring_one(
    draft: _Draft, person: Staff, presence: PresenceSnapshot, settings: Settings, reason: str, label: str
) -> bool:
    why = presence.get(person.id).unreachable_reason(person.max_calls)
    if why:
        draft.skip(person.id, why)
        return False
    draft.ring("staff", [person], settings.routing.person_ring_seconds, reason, label)
    return True


def _requested_person(draft: _Draft, request: CallRequest, presence: PresenceSnapshot, settings: Settings) -> None:
    wanted = request.requested_person
    if not wanted:
        return
    person = settings.staff_by_id(wanted)
    if person is None:
        draft.reasons.append(f"requested person {wanted!r} does not exist; ringing the team")
        return
    if not _ring_one(draft, person, presence, settings, "the caller asked for this person", "requested person"):
        draft.reasons.append(f"requested person {wanted!r} cannot answer ({draft.skipped[wanted]}); ringing the team")


def _last_handler(draft: _Draft, request: CallRequest, presence: PresenceSnapshot, settings: Settings) -> None:
    handler = request.last_handler
    if not handler or not settings.routing.prefer_last_handler or handler in draft.rung:
        return
    person = settings.staff_by_id(handler)
    if person is None:
        draft.reasons.append(f"last handler {handler!r} is no longer on the staff")
        return
    thing = "case" if request.case_ref and not request.order_ref else "order"
    reason = f"handled this customer's open {thing} last"
    if not _ring_one(draft, person, presence, settings, reason, "last handler"):
        draft.reasons.append(f"last handler {handler!r} cannot answer ({draft.skipped[handler]})")


def _lacks(person: Staff, skills: tuple[str, ...], language: str | None) -> str:
    missing = [s for s in skills if s not in person.skills]
    parts = [f"lacks skill {', '.join(missing)}"] if missing else []
    if language and language not in person.languages:
        parts.append(f"does not speak {language}")
    return "; ".join(parts)


def _team(draft: _Draft, request: CallRequest, presence: PresenceSnapshot, settings: Settings, rotation: int) -> None:
    team = [s for s in settings.staff if not s.showroom and s.id not in draft.rung]
    free: list[Staff] = []
    for member in team:
        why = presence.get(member.id).unreachable_reason(member.max_calls)
        if why:
            draft.skip(member.id, why)
        else:
            free.append(member)
    if not free:
        if team:
            draft.reasons.append("nobody in the team is free")
        return
    skills = tuple(s.lower() for s in request.skills)
    language = request.language.lower() if request.language else None
    candidates = free
    if skills or language:
        wanted = " and ".join(
            ([f"skill {', '.join(skills)}"] if skills else []) + ([f"language {language}"] if language else [])
        )
        matching = [m for m in free if not _lacks(m, skills, language)]
        if matching:
            for member in free:
                if member not in matching:
                    draft.skip(member.id, _lacks(member, skills, language))
            candidates = matching
            draft.reasons.append(f"team narrowed to people with {wanted}")
        else:
            draft.reasons.append(f"nobody free in the team has {wanted}; ringing the whole team")
    strategy = settings.routing.strategy
    groups = order_team(strategy, candidates, presence, rotation)
    by_id = {m.id: m for m in candidates}
    for index, group in enumerate(groups, start=1):
        label = "team" if len(groups) == 1 else f"team {index}/{len(groups)}"
        reason = f"{strategy}: {DESCRIPTIONS[strategy]}"
        draft.ring("staff", [by_id[i] for i in group], settings.routing.team_ring_seconds, reason, label)


def _showroom(draft: _Draft, at: datetime, presence: PresenceSnapshot, settings: Settings) -> None:
    specialists = [s for s in settings.showroom_staff if s.id not in draft.rung]
    if not specialists:
        return
    state = open_state(settings.showroom_hours, settings.shop.zone, at)
    if not state.is_open:
        for person in specialists:
            draft.skip(person.id, f"the showroom is closed ({state.reason})")
        return
    free = []
    for person in specialists:
        why = presence.get(person.id).unreachable_reason(person.max_calls)
        if why:
            draft.skip(person.id, why)
        else:
            free.append(person)
    if free:
        reason = f"the showroom is open ({state.reason})"
        if draft.steps:
            reason += "; its specialists ring after the team"
        draft.ring("showroom", free, settings.showroom.ring_seconds, reason, "showroom")


def outsourced_uri(settings: Settings) -> str:
    centre = settings.outsourced
    return f"sip:{centre.user}@{centre.host}:{centre.port}"


def _fallback(settings: Settings, at: datetime, shop_open: bool) -> Fallback:
    centre = settings.outsourced
    if centre.enabled:
        state = open_state(centre.hours, settings.shop.zone, at)
        if state.is_open:
            why = "nobody in the shop answered" if shop_open else "the shop is closed"
            reason = f"{why}; {centre.name} is open ({state.reason})"
            return Fallback("outsourced", reason, Target("outsourced", outsourced_uri(settings)), centre.ring_seconds)
        not_there = f"{centre.name} is closed too ({state.reason})"
    else:
        not_there = "the outsourced centre is disabled"
    if shop_open:
        return Fallback("closed_message", f"nobody in the shop answered and {not_there}", announcement=NOBODY_FREE)
    return Fallback(
        "closed_message",
        f"the shop is closed and {not_there}",
        next_opening=next_opening(settings.shop.hours, settings.shop.zone, at),
        announcement=closed_announcement(settings.shop.hours),
    )
