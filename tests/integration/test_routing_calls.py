"""Routing through FastAGI, with real phones: who rings, in what order, and what happens when nobody answers."""

from __future__ import annotations

from datetime import datetime

from tests.support.engine import OPEN_HOURS, TALLINN


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
