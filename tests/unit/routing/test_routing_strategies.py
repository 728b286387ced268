from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from config.schema import Settings
from routing.presence import DeviceState, PersonPresence, PresenceSnapshot, SelfStatus
from routing.strategies import STRATEGIES, longest_idle, order_team, ring_all, round_robin


def team(settings: Settings):
    return [s for s in settings.staff if not s.showroom]  # mari, jaan, kati (kati takes 2 calls)


def everyone(settings: Settings) -> PresenceSnapshot:
    return PresenceSnapshot.all_available(s.id for s in settings.staff)


def with_people(settings: Settings, *people: PersonPresence) -> PresenceSnapshot:
    snapshot = everyone(settings)
    for person in people:
        snapshot = snapshot.with_person(person)
    return snapshot


def test_ring_all_is_one_step_with_everyone_free(settings: Settings) -> None:
    assert ring_all(team(settings), everyone(settings)) == (("mari", "jaan", "kati"),)


@pytest.mark.parametrize(
    "unreachable",
    [
        PersonPresence("jaan", DeviceState.INUSE, registered=True),
        PersonPresence("jaan", DeviceState.NOT_INUSE, registered=False),
        PersonPresence("jaan", DeviceState.UNAVAILABLE, registered=True),
        PersonPresence("jaan", DeviceState.NOT_INUSE, registered=True, status=SelfStatus.AWAY),
        PersonPresence("jaan", DeviceState.NOT_INUSE, registered=True, status=SelfStatus.DND),
        PersonPresence("jaan", DeviceState.NOT_INUSE, registered=True, status=SelfStatus.WALK_IN),
        PersonPresence("jaan", DeviceState.NOT_INUSE, registered=True, active_calls=1),
    ],
)
@pytest.mark.parametrize("strategy", sorted(STRATEGIES))
def test_no_strategy_rings_someone_who_cannot_answer(
    settings: Settings, strategy: str, unreachable: PersonPresence
) -> None:
    groups = order_team(strategy, team(settings), with_people(settings, unreachable))
    assert "jaan" not in {i for group in groups for i in group}
    assert {i for group in groups for i in group} == {"mari", "kati"}


def test_max_calls_allows_a_second_call(settings: Settings) -> None:
    presence = with_people(settings, PersonPresence("kati", DeviceState.INUSE, registered=True, active_calls=1))
    assert ring_all(team(settings), presence) == (("mari", "jaan", "kati"),)
    presence = with_people(settings, PersonPresence("kati", DeviceState.INUSE, registered=True, active_calls=2))
    assert ring_all(team(settings), presence) == (("mari", "jaan"),)


@pytest.mark.parametrize(
    ("rotation", "order"),
    [
        (0, ["mari", "jaan", "kati"]),
        (1, ["jaan", "kati", "mari"]),
        (2, ["kati", "mari", "jaan"]),
        (3, ["mari", "jaan", "kati"]),
        (-1, ["kati", "mari", "jaan"]),
    ],
)
def test_round_robin_rotates_one_person_a_step(settings: Settings, rotation: int, order: list[str]) -> None:
    assert round_robin(team(settings), everyone(settings), rotation) == tuple((i,) for i in order)


def test_round_robin_rotates_among_those_free(settings: Settings) -> None:
    presence = with_people(settings, PersonPresence("jaan"))
    assert round_robin(team(settings), presence, 1) == (("kati",), ("mari",))


def test_longest_idle_puts_never_called_first_then_oldest(settings: Settings) -> None:
    presence = with_people(
        settings,
        PersonPresence("mari", DeviceState.NOT_INUSE, True, last_call_ended_at=datetime(2026, 1, 1, 10, 5, tzinfo=UTC)),
        PersonPresence("kati", DeviceState.NOT_INUSE, True, last_call_ended_at=datetime(2026, 1, 1, 9, 0, tzinfo=UTC)),
    )
    assert longest_idle(team(settings), presence) == (("jaan",), ("kati",), ("mari",))


def test_nobody_free_means_no_steps(settings: Settings) -> None:
    for strategy in STRATEGIES:
        assert order_team(strategy, team(settings), PresenceSnapshot()) == ()


def test_unknown_strategy(settings: Settings) -> None:
    with pytest.raises(ValueError, match="unknown routing strategy"):
        order_team("random", team(settings), everyone(settings))


presences = st.lists(
    st.builds(
        PersonPresence,
        staff_id=st.sampled_from(["mari", "jaan", "kati", "liis"]),
        device=st.sampled_from(DeviceState),
        registered=st.booleans(),
        status=st.sampled_from(SelfStatus),
        active_calls=st.integers(min_value=0, max_value=3),
    )
).map(PresenceSnapshot)


@given(st.sampled_from(sorted(STRATEGIES)), presences, st.integers(min_value=-5, max_value=50))
def test_strategies_ring_each_free_person_exactly_once(
    settings: Settings, strategy: str, presence: PresenceSnapshot, rotation: int
) -> None:
    members = team(settings)
    groups = order_team(strategy, members, presence, rotation)
    rung = [i for group in groups for i in group]
    free = {m.id for m in members if presence.get(m.id).is_reachable(m.max_calls)}
    assert sorted(rung) == sorted(free)
    if strategy != "ring_all":
        assert all(len(group) == 1 for group in groups)
