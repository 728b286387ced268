"""How a team is rung: everyone at once, in rotation, or whoever has waited longest.

Each strategy returns groups of staff ids; one group is one ring step. Every strategy drops
people who cannot take a call, so no caller of a strategy can ring someone busy by mistake.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from config.schema import Staff
from routing.presence import PresenceSnapshot

Groups = tuple[tuple[str, ...], ...]

DESCRIPTIONS = {
    "ring_all": "everyone free rings at once",
    "round_robin": "one at a time, starting where the rotation left off",
    "longest_idle": "one at a time, longest since their last call first",
}


def reachable(members: Sequence[Staff], presence: PresenceSnapshot) -> list[Staff]:
    return [m for m in members if presence.get(m.id).is_reachable(m.max_calls)]


def ring_all(members: Sequence[Staff], presence: PresenceSnapshot, rotation: int = 0) -> Groups:
    free = reachable(members, presence)
    return (tuple(m.id for m in free),) if free else ()


def round_robin(members: Sequence[Staff], presence: PresenceSnapshot, rotation: int = 0) -> Groups:
    """One person a step; `rotation` (a counter the caller keeps) picks who starts.

    The rotation runs over the people free now, so a busy colleague does not make the next
    person in line take two first rings in a row.
    """
    free = reachable(members, presence)
    if not free:
        return ()
    start = rotation % len(free)
    return tuple((m.id,) for m in free[start:] + free[:start])


def _idle_key(last_ended: datetime | None) -> tuple[int, float]:
    # Never called sorts first; then the oldest end of call.
    return (0, 0.0) if last_ended is None else (1, last_ended.timestamp())


def longest_idle(members: Sequence[Staff], presence: PresenceSnapshot, rotation: int = 0) -> Groups:
    """One person a step, longest since their last call first; ties keep the configured order."""
    free = reachable(members, presence)
    ordered = sorted(free, key=lambda m: _idle_key(presence.get(m.id).last_call_ended_at))
    return tuple((m.id,) for m in ordered)


STRATEGIES: dict[str, Callable[[Sequence[Staff], PresenceSnapshot, int], Groups]] = {
    "ring_all": ring_all,
    "round_robin": round_robin,
    "longest_idle": longest_idle,
}


def order_team(strategy: str, members: Sequence[Staff], presence: PresenceSnapshot, rotation: int = 0) -> Groups:
    try:
        chosen = STRATEGIES[strategy]
    except KeyError:
        raise ValueError(f"unknown routing strategy {strategy!r}; use one of {', '.join(STRATEGIES)}") from None
    return chosen(members, presence, rotation)
