"""Routing through FastAGI with real phones: who rings, in what order, and what happens when nobody answers."""

from __future__ import annotations

import time
from datetime import datetime

import pytest

from tests.support import shop
from tests.support.engine import OPEN_HOURS, TALLINN
from tests.support.sip import SipTestError

WEB = f"127.0.0.1:{shop.SIP_PORT}"


@pytest.fixture(autouse=True)
def _shop_open_and_everyone_free(clock, tugi, phones):
    clock.set(OPEN_HOURS)
    for staff_id in ("alice", "bob", "carol", "dan"):
        wait_presence(tugi, staff_id, "available")
    yield
    clock.set(OPEN_HOURS)


def web_call(tugi, phones, target: str, page: str = "cart-42", token: str | None = None):
    if token is None:
        token, _ = tugi.engine.tokens.issue(target, page, tugi.clock())
    return phones["webtest"].call(f"sip:{target}@{WEB}", headers={"X-Tugi-Token": token})


def wait_presence(tugi, staff_id: str, state: str, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while tugi.engine.presence.current().get(staff_id).public_state != state:
        if time.monotonic() > deadline:
            raise AssertionError(f"{staff_id} never became {state}")
        time.sleep(0.05)


def test_internal_call_is_routed_by_tugi(tugi, phones) -> None:
    before = tugi.engine.agi.requests
    call = phones["alice"].call("202")
    ringing = phones["bob"].wait_incoming()
    assert ringing.caller_id == "201"
    ringing.answer()
    call.wait_confirmed()
    call.hangup()
    ringing.wait_disconnected()
    assert tugi.engine.agi.requests > before
    assert tugi.engine.agi.failures == 0


def test_the_named_person_answers(tugi, phones) -> None:
    wait_presence(tugi, "bob", "available")
    call = web_call(tugi, phones, "bob")
    ringing = phones["bob"].wait_incoming()
    for other in ("alice", "carol", "dan"):
        phones[other].expect_no_call(0.3)
    ringing.answer()
    call.wait_confirmed()
    call.hangup()
    ringing.wait_disconnected()


def test_without_a_valid_token_the_web_call_is_refused(tugi, phones) -> None:
    forged = "eyJzIjoidGVzdHNob3AifQ." + "A" * 43
    call = web_call(tugi, phones, "bob", token=forged)
    call.wait_disconnected()
    assert call.seen.last_status in (403, 603)
    phones["bob"].expect_no_call(0.5)


def test_named_person_busy_rings_the_team(tugi, phones) -> None:
    busy = phones["alice"].call("202")
    bob_leg = phones["bob"].wait_incoming()
    bob_leg.answer()
    busy.wait_confirmed()
    wait_presence(tugi, "bob", "busy")
    wait_presence(tugi, "alice", "busy")
    call = web_call(tugi, phones, "bob")
    ringing = phones["carol"].wait_incoming()
    phones["bob"].expect_no_call(0.3)
    ringing.answer()
    call.wait_confirmed()
    note = next(n for n in tugi.engine.routes.notes.values() if n.kind == "web" and n.targets_tried == ["carol"])
    assert note.route == ["team"]
    for leg in (call, busy):
        leg.hangup()


def test_nobody_answers_then_showroom_then_outsourced_with_references(tugi, phones, outsourced_phone) -> None:
    call = web_call(tugi, phones, "alice", page="offer-777")
    phones["alice"].wait_incoming(timeout=5)             # the named person, 6 s
    for staff_id in ("bob", "carol"):
        phones[staff_id].wait_incoming(timeout=10)       # then the team, 6 s
    phones["dan"].wait_incoming(timeout=10)              # then the showroom, 6 s
    centre = outsourced_phone.wait_incoming(timeout=12)  # then the outsourced centre
    assert centre.seen.headers.get("x-tugi-page") == ["offer-777"]
    centre.answer()
    call.wait_confirmed(timeout=5)
    call.hangup()
    centre.wait_disconnected()


@pytest.mark.parametrize(
    "when",
    [
        pytest.param(datetime(2026, 11, 25, 18, 0, tzinfo=TALLINN), id="after-hours-18:00"),
        pytest.param(datetime(2026, 12, 24, 10, 0, tzinfo=TALLINN), id="christmas-eve-holiday"),
    ],
)
def test_when_the_shop_is_closed_the_outsourced_centre_rings_at_once(
    tugi, phones, outsourced_phone, clock, when: datetime
) -> None:
    clock.set(when)
    call = web_call(tugi, phones, "bob")
    centre = outsourced_phone.wait_incoming(timeout=5)
    for staff_id in ("alice", "bob", "carol", "dan"):
        with pytest.raises(SipTestError):
            phones[staff_id].wait_incoming(timeout=0.2)
    centre.answer()
    call.wait_confirmed()
    call.hangup()
    centre.wait_disconnected()

