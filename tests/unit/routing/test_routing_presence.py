from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from routing.presence import (
    PUBLIC_STATES,
    DeviceState,
    PersonPresence,
    PresenceSnapshot,
    SelfStatus,
    apply_device_state,
    apply_registration,
    apply_self_status,
    call_ended,
    call_started,
)

NOON = datetime(2026, 12, 21, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "state"),
    [
        ("NOT_INUSE", DeviceState.NOT_INUSE),
        ("Not in use", DeviceState.NOT_INUSE),
        ("INUSE", DeviceState.INUSE),
        ("In use", DeviceState.INUSE),
        ("BUSY", DeviceState.BUSY),
        ("Busy", DeviceState.BUSY),
        ("INVALID", DeviceState.INVALID),
        ("UNAVAILABLE", DeviceState.UNAVAILABLE),
        ("Unavailable", DeviceState.UNAVAILABLE),
        ("RINGING", DeviceState.RINGING),
        ("Ringing", DeviceState.RINGING),
        ("RINGINUSE", DeviceState.RINGINUSE),
        ("Ring+Inuse", DeviceState.RINGINUSE),
        ("ONHOLD", DeviceState.ONHOLD),
        ("On Hold", DeviceState.ONHOLD),
        ("UNKNOWN", DeviceState.UNKNOWN),
        ("Unknown", DeviceState.UNKNOWN),
        ("Idle", DeviceState.NOT_INUSE),
        ("InUse&Hold", DeviceState.ONHOLD),
        ("  not_inuse\r\n", DeviceState.NOT_INUSE),
        ("something new", DeviceState.UNKNOWN),
        ("", DeviceState.UNKNOWN),
    ],
)
def test_device_state_from_ami(text: str, state: DeviceState) -> None:
    assert DeviceState.from_ami(text) is state


def idle(staff_id: str = "mari", **changes: object) -> PersonPresence:
    base = {"device": DeviceState.NOT_INUSE, "registered": True}
    return PersonPresence(staff_id, **{**base, **changes})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("person", "public"),
    [
        (PersonPresence("mari"), "offline"),
        (idle(), "available"),
        (idle(device=DeviceState.UNKNOWN), "available"),
        (idle(registered=False), "offline"),
        (idle(device=DeviceState.UNAVAILABLE), "offline"),
        (idle(device=DeviceState.INVALID), "offline"),
        (idle(device=DeviceState.INUSE), "busy"),
        (idle(device=DeviceState.RINGING), "busy"),
        (idle(device=DeviceState.BUSY), "busy"),
        (idle(device=DeviceState.ONHOLD), "busy"),
        (idle(active_calls=1), "busy"),
        (idle(status=SelfStatus.AWAY), "offline"),
        (idle(status=SelfStatus.DND), "busy"),
        (idle(status=SelfStatus.WALK_IN), "busy"),
    ],
)
def test_public_state(person: PersonPresence, public: str) -> None:
    assert person.public_state == public


@pytest.mark.parametrize(
    ("person", "max_calls", "reachable"),
    [
        (idle(), 1, True),
        (PersonPresence("mari"), 1, False),
        (idle(registered=False), 1, False),
        (idle(status=SelfStatus.AWAY), 1, False),
        (idle(status=SelfStatus.DND), 1, False),
        (idle(status=SelfStatus.WALK_IN), 1, False),
        (idle(device=DeviceState.BUSY), 3, False),
        (idle(device=DeviceState.RINGING), 3, False),
        (idle(device=DeviceState.UNAVAILABLE), 3, False),
        (idle(active_calls=1), 1, False),
        (idle(active_calls=1), 2, True),
        (idle(active_calls=2), 2, False),
        # A call Tugi did not track still counts: the phone says it is in use.
        (idle(device=DeviceState.INUSE), 1, False),
        (idle(device=DeviceState.INUSE), 2, True),
        (idle(device=DeviceState.INUSE, active_calls=1), 2, True),
    ],
)
def test_is_reachable(person: PersonPresence, max_calls: int, reachable: bool) -> None:
    assert person.is_reachable(max_calls) is reachable
    assert (person.unreachable_reason(max_calls) is None) is reachable


people = st.builds(
    PersonPresence,
    staff_id=st.sampled_from(["mari", "jaan", "liis"]),
    device=st.sampled_from(DeviceState),
    registered=st.booleans(),
    status=st.sampled_from(SelfStatus),
    active_calls=st.integers(min_value=0, max_value=5),
)


@given(people, st.integers(min_value=1, max_value=10))
def test_public_state_is_one_of_three_and_agrees_with_reachability(person: PersonPresence, max_calls: int) -> None:
    assert person.public_state in PUBLIC_STATES
    if person.public_state == "offline":
        assert not person.is_reachable(max_calls)
    if person.public_state == "available":
        assert person.is_reachable(max_calls)


def test_unknown_staff_read_as_offline() -> None:
    snapshot = PresenceSnapshot()
    assert snapshot.get("nobody") == PersonPresence("nobody")
    assert snapshot.get("nobody").public_state == "offline"
    assert "nobody" not in snapshot
    with pytest.raises(KeyError):
        snapshot["nobody"]


def test_snapshot_is_immutable_and_updates_return_new_ones() -> None:
    before = PresenceSnapshot.all_available(["mari", "jaan"])
    after = apply_device_state(before, "mari", "In use")
    assert before.get("mari").device is DeviceState.NOT_INUSE
    assert after.get("mari").device is DeviceState.INUSE
    assert list(after) == ["mari", "jaan"]  # an update keeps the order
    with pytest.raises(TypeError):
        before["mari"] = PersonPresence("mari")  # type: ignore[index]


def test_updates_on_unknown_staff_start_from_offline() -> None:
    snapshot = apply_self_status(PresenceSnapshot(), "uus", "dnd")
    assert snapshot.get("uus") == PersonPresence("uus", status=SelfStatus.DND)
    snapshot = apply_registration(snapshot, "uus", True)
    assert snapshot.get("uus").registered


def test_calls_are_counted_and_never_negative() -> None:
    snapshot = PresenceSnapshot.all_available(["mari"])
    snapshot = call_started(call_started(snapshot, "mari"), "mari")
    assert snapshot.get("mari").active_calls == 2
    snapshot = call_ended(snapshot, "mari", NOON)
    assert snapshot.get("mari").active_calls == 1
    assert snapshot.get("mari").last_call_ended_at == NOON
    snapshot = call_ended(call_ended(snapshot, "mari", NOON), "mari", NOON)
    assert snapshot.get("mari").active_calls == 0


def test_call_end_needs_an_aware_time() -> None:
    with pytest.raises(ValueError):
        call_ended(PresenceSnapshot(), "mari", datetime(2026, 1, 1, 10, 0))


def test_snapshots_compare_by_content() -> None:
    assert PresenceSnapshot.all_available(["mari"]) == PresenceSnapshot.all_available(["mari"])
    assert apply_registration(
        PresenceSnapshot.all_available(["mari"]), "mari", False
    ) != PresenceSnapshot.all_available(["mari"])
