"""Masked calls through the real Asterisk: courier and customer reach each other via a proxy
number, and nothing that reaches either side carries the other's real number."""

from __future__ import annotations

import contextlib
import time
from datetime import timedelta

import pytest

from tests.support import shop

COURIER = "+37255500001"
CUSTOMER = "+37255500002"
STRANGER = "+37255500003"
PROXY = "+3726001001"
ASTERISK = f"127.0.0.1:{shop.SIP_PORT}"


@pytest.fixture(scope="module")
def outside(sip_agent):
    """Phones on the public network, reached through the carrier trunk (127.0.0.2)."""
    made = {
        name: sip_agent.phone(number, bind_ip=shop.CARRIER_IP, bind_port=shop.CARRIER_PORT, register=False)
        for name, number in (("courier", COURIER), ("customer", CUSTOMER), ("stranger", STRANGER))
    }
    yield made
    for phone in made.values():
        phone.close()


@pytest.fixture
def session(tugi):
    masking = tugi.engine.masking
    opened = masking.open_session(
        order_ref="order-1001", customer_ref="cust-7", customer_number=CUSTOMER,
        courier_ref="courier-dhl-3", courier_number=COURIER, case_ref="case-55", ttl=timedelta(hours=2),
    )
    yield opened
    with contextlib.suppress(Exception):
        masking.close(opened.id)


def dial_proxy(phone, proxy: str = PROXY):
    return phone.call(f"sip:{proxy}@{ASTERISK}")


def assert_no_trace_of(number: str, invite: str) -> None:
    digits = number.lstrip("+")
    assert digits not in invite, f"the INVITE carries {number}:\n{invite}"


def test_courier_reaches_the_customer_who_sees_only_the_proxy_number(tugi, outside, session) -> None:
    assert session.proxy_number in (PROXY, "+3726001002")
    call = dial_proxy(outside["courier"], session.proxy_number)
    ringing = outside["customer"].wait_incoming()
    assert ringing.caller_id == session.proxy_number
    assert_no_trace_of(COURIER, ringing.seen.invite)   # From, PAI, RPID, Diversion, X- headers, SDP: none
    ringing.answer()
    call.wait_confirmed()
    time.sleep(0.5)
    call.hangup()
    ringing.wait_disconnected()
    deadline = time.monotonic() + 15
    while not (records := tugi.calls(channel="masked")) and time.monotonic() < deadline:
        time.sleep(0.2)
    record = tugi.engine.history.get_call(records[0]["id"])
    assert record["order_ref"] == "order-1001"
    assert record["disposition"] == "answered"


def test_the_customer_calls_the_courier_back_through_the_same_number(tugi, outside, session) -> None:
    call = dial_proxy(outside["customer"], session.proxy_number)
    ringing = outside["courier"].wait_incoming()
    assert ringing.caller_id == session.proxy_number
    assert_no_trace_of(CUSTOMER, ringing.seen.invite)
    ringing.answer()
    call.wait_confirmed()
    call.hangup()
    ringing.wait_disconnected()


def test_a_stranger_hears_an_announcement_and_nobody_rings(tugi, outside, session) -> None:
    call = dial_proxy(outside["stranger"], session.proxy_number)
    call.wait_confirmed()          # answered by Asterisk for the announcement, then hung up
    call.wait_disconnected(timeout=15)
    outside["customer"].expect_no_call(0.5)
    outside["courier"].expect_no_call(0.1)


def test_a_closed_session_no_longer_connects(tugi, outside, session) -> None:
    tugi.engine.masking.close(session.id)
    call = dial_proxy(outside["courier"], session.proxy_number)
    call.wait_disconnected(timeout=15)
    outside["customer"].expect_no_call(0.5)


def test_single_number_mode_asks_for_the_pin(tugi, outside) -> None:
    masking = tugi.engine.masking
    opened = []
    try:
        # The customer already has a live session on every proxy number: the next one needs a PIN.
        for courier in ("+37255500011", COURIER, "+37255500012"):
            opened.append(masking.open_session(
                order_ref=f"order-{courier[-2:]}", customer_ref="cust-7", customer_number=CUSTOMER,
                courier_ref=f"courier-{courier[-2:]}", courier_number=courier, ttl=timedelta(hours=1),
            ))
        pinned = next(s for s in opened if s.pin)
        assert pinned.courier.number == COURIER
        call = dial_proxy(outside["courier"], pinned.proxy_number)
        call.wait_confirmed()                 # Asterisk answers to collect the PIN
        time.sleep(1.5)
        call.send_dtmf(pinned.pin)
        ringing = outside["customer"].wait_incoming(timeout=15)
        assert ringing.caller_id == pinned.proxy_number
        assert_no_trace_of(COURIER, ringing.seen.invite)
        ringing.answer()
        time.sleep(0.5)
        call.hangup()
        ringing.wait_disconnected()
    finally:
        for session in opened:
            with contextlib.suppress(Exception):
                masking.close(session.id)
