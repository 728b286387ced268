"""Every call through the real Asterisk becomes exactly one correct record in the history."""

from __future__ import annotations

import time

import pytest

from tests.support import shop
from tests.support.engine import OPEN_HOURS

REGISTRAR = f"127.0.0.1:{shop.SIP_PORT}"


@pytest.fixture(autouse=True)
def _shop_open(clock):
    clock.set(OPEN_HOURS)


def wait_record(tugi, caller_uniqueids_before: set[int], timeout: float = 15.0, count: int = 1) -> list[dict]:
    """The calls stored since `before` (by id), once `count` of them are there."""
    deadline = time.monotonic() + timeout
    while True:
        new = [c for c in tugi.calls(limit=50) if c["id"] not in caller_uniqueids_before]
        if len(new) >= count or time.monotonic() > deadline:
            return sorted(new, key=lambda c: c["id"])
        time.sleep(0.2)


def ids(tugi) -> set[int]:
    return {c["id"] for c in tugi.calls(limit=500)}


def full(tugi, call: dict) -> dict:
    return tugi.engine.history.get_call(call["id"])


def test_answered_call(tugi, phones) -> None:
    before = ids(tugi)
    outgoing = phones["alice"].call("202")
    ringing = phones["bob"].wait_incoming()
    time.sleep(1.0)
    ringing.answer()
    outgoing.wait_confirmed()
    time.sleep(2.0)
    outgoing.hangup()
    ringing.wait_disconnected()
    (call,) = wait_record(tugi, before)
    record = full(tugi, call)
    assert record["disposition"] == "answered"
    assert record["channel"] == "internal"
    assert record["answered_by"] == "bob"
    assert 1.5 <= record["talk_seconds"] <= 3.5
    assert 0.5 <= record["wait_seconds"] <= 2.5
    legs = {leg["party_ref"]: leg for leg in record["legs"]}
    assert set(legs) == {"alice", "bob"}
    assert legs["alice"]["is_caller"] and legs["bob"]["outcome"] == "answered"
    assert record["route"] == ["person:bob"] or record["route"]  # the step Tugi took is recorded
    assert wait_record(tugi, before, timeout=1) == [call]  # no duplicate


def test_unanswered_call_rings_out(tugi, phones) -> None:
    before = ids(tugi)
    outgoing = phones["alice"].call("202")
    phones["bob"].wait_incoming()
    outgoing.wait_disconnected(timeout=30)
    (call,) = wait_record(tugi, before)
    record = full(tugi, call)
    assert record["disposition"] == "no_answer"
    assert record["answered_by"] is None
    bob = next(leg for leg in record["legs"] if leg["party_ref"] == "bob")
    assert bob["outcome"] == "no_answer"


def test_busy(tugi, phones) -> None:
    before = ids(tugi)
    outgoing = phones["alice"].call("202")
    phones["bob"].wait_incoming().reject(486)
    outgoing.wait_disconnected(timeout=15)
    (call,) = wait_record(tugi, before)
    assert full(tugi, call)["disposition"] == "busy"


def test_caller_hangs_up_while_ringing(tugi, phones) -> None:
    before = ids(tugi)
    outgoing = phones["alice"].call("202")
    ringing = phones["bob"].wait_incoming()
    time.sleep(1.0)
    outgoing.hangup()
    ringing.wait_disconnected()
    (call,) = wait_record(tugi, before)
    record = full(tugi, call)
    assert record["disposition"] == "abandoned"
    assert 0.5 <= record["wait_seconds"] <= 3.0


def test_blind_transfer(tugi, phones) -> None:
    before = ids(tugi)
    outgoing = phones["alice"].call("202")
    bob = phones["bob"].wait_incoming()
    bob.answer()
    outgoing.wait_confirmed()
    bob.transfer(f"sip:203@{REGISTRAR}")
    carol = phones["carol"].wait_incoming()
    carol.answer()
    time.sleep(1.5)
    outgoing.hangup()
    carol.wait_disconnected()
    bob.hangup()
    (call,) = wait_record(tugi, before)
    record = full(tugi, call)
    assert record["disposition"] == "answered"
    assert record["answered_by"] == "bob"
    assert record["transfers"] == 1
    assert {leg["party_ref"] for leg in record["legs"]} >= {"alice", "bob", "carol"}


def test_attended_transfer_is_one_call(tugi, phones) -> None:
    before = ids(tugi)
    outgoing = phones["alice"].call("202")
    bob = phones["bob"].wait_incoming()
    bob.answer()
    outgoing.wait_confirmed()
    bob.hold()
    time.sleep(0.5)
    consult = phones["bob"].call("203")
    carol = phones["carol"].wait_incoming()
    carol.answer()
    consult.wait_confirmed()
    time.sleep(0.5)
    bob.transfer_to_call(consult)
    time.sleep(1.5)
    outgoing.hangup()
    carol.wait_disconnected()
    phones["bob"].hangup_all()
    calls = wait_record(tugi, before)
    time.sleep(1.0)
    calls = wait_record(tugi, before)
    assert len(calls) == 1, calls
    record = full(tugi, calls[0])
    assert record["transfers"] >= 1
    assert {leg["party_ref"] for leg in record["legs"]} >= {"alice", "bob", "carol"}


def test_two_simultaneous_calls(tugi, phones) -> None:
    before = ids(tugi)
    first = phones["alice"].call("202")
    second = phones["carol"].call("204")
    bob, dan = phones["bob"].wait_incoming(), phones["dan"].wait_incoming()
    bob.answer()
    dan.answer()
    first.wait_confirmed()
    second.wait_confirmed()
    time.sleep(1.0)
    first.hangup()
    second.hangup()
    calls = wait_record(tugi, before, count=2)
    assert len(calls) == 2
    answered_by = sorted(full(tugi, c)["answered_by"] for c in calls)
    assert answered_by == ["bob", "dan"]


def _cut_ami(tugi) -> None:
    async def cut() -> None:
        tugi.engine.ami._writer.transport.abort()

    tugi.run(cut())


def test_ami_link_cut_mid_call_still_gives_one_correct_record(tugi, phones) -> None:
    before = ids(tugi)
    outgoing = phones["alice"].call("202")
    ringing = phones["bob"].wait_incoming()
    ringing.answer()
    outgoing.wait_confirmed()
    time.sleep(0.5)
    logins = tugi.engine.ami.logins
    _cut_ami(tugi)
    outgoing.hangup()  # the call ends while Tugi is not listening: its end events are missed
    ringing.wait_disconnected()
    deadline = time.monotonic() + 10
    while tugi.engine.ami.logins == logins and time.monotonic() < deadline:
        time.sleep(0.1)
    assert tugi.engine.ami.logins > logins, "Tugi did not reconnect by itself"
    (call,) = wait_record(tugi, before)
    record = full(tugi, call)
    assert record["disposition"] == "answered" and record["answered_by"] == "bob"
    assert {leg["party_ref"] for leg in record["legs"]} == {"alice", "bob"}
    time.sleep(1.0)
    assert wait_record(tugi, before, timeout=1) == [call]


@pytest.mark.restarts_pbx
def test_asterisk_restarted_with_a_call_in_progress(tugi, phones, pbx) -> None:
    before = ids(tugi)
    outgoing = phones["alice"].call("202")
    ringing = phones["bob"].wait_incoming()
    ringing.answer()
    outgoing.wait_confirmed()
    time.sleep(1.0)
    logins = tugi.engine.ami.logins
    pbx.restart()
    deadline = time.monotonic() + 20
    while tugi.engine.ami.logins == logins and time.monotonic() < deadline:
        time.sleep(0.1)
    assert tugi.engine.ami.logins > logins, "Tugi did not reconnect after the restart"
    for phone in ("alice", "bob"):
        phones[phone].hangup_all()
    (call,) = wait_record(tugi, before)
    record = full(tugi, call)
    assert record["answered_by"] == "bob"
    assert record["disposition"] == "answered"
    time.sleep(1.0)
    assert wait_record(tugi, before, timeout=1) == [call]
    for staff_id in ("alice", "bob", "carol", "dan"):
        phones[staff_id].reregister()


def test_database_unavailable_when_the_call_ends_loses_nothing(tugi, phones) -> None:
    import sqlite3

    before = ids(tugi)
    outgoing = phones["alice"].call("202")
    ringing = phones["bob"].wait_incoming()
    ringing.answer()
    outgoing.wait_confirmed()
    path = tugi.settings.database.url.removeprefix("sqlite:///")
    blocker = sqlite3.connect(path, timeout=1, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")   # nobody else can write: the database is away for Tugi
    try:
        outgoing.hangup()
        ringing.wait_disconnected()
        deadline = time.monotonic() + 15
        while tugi.engine.writer.pending == 0 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert tugi.engine.writer.pending >= 1, "the finished call is not waiting in the spool"
        time.sleep(2.0)
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    (call,) = wait_record(tugi, before, timeout=30)
    record = full(tugi, call)
    assert record["disposition"] == "answered" and record["answered_by"] == "bob"
    time.sleep(1.0)
    assert wait_record(tugi, before, timeout=1) == [call]
