from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from config.schema import Settings
from routing.explain import explain
from routing.model import CallKind, CallRequest
from routing.planner import plan_call
from routing.presence import DeviceState, PersonPresence, PresenceSnapshot

TALLINN = ZoneInfo("Europe/Tallinn")
DISABLED = '[outsourced]\nenabled = false\nname = "Partner"\n'


def everyone(settings: Settings) -> PresenceSnapshot:
    return PresenceSnapshot.all_available(s.id for s in settings.staff)


def text_for(settings: Settings, request: CallRequest, at: datetime, presence: PresenceSnapshot | None = None) -> str:
    presence = presence if presence is not None else everyone(settings)
    return explain(plan_call(request, at, presence, settings), request, at, settings)


def test_open_shop_explanation_names_time_rule_steps_skips_and_fallback(settings: Settings) -> None:
    at = datetime(2026, 12, 22, 11, 0, tzinfo=TALLINN)
    presence = everyone(settings).with_person(PersonPresence("kati", DeviceState.INUSE, True, active_calls=2))
    text = text_for(settings, CallRequest(CallKind.WEB, requested_person="jaan", order_ref="A-1"), at, presence)
    lines = text.splitlines()
    assert lines[0] == "Web call at Tuesday 2026-12-22 11:00 Europe/Tallinn (UTC+02:00, EET)"
    assert "Request: requested person jaan; order A-1" in lines
    assert "  shop: open — Tuesday 09:00-17:00" in lines
    assert "  1. [requested person] jaan (Jaan) rings for 15 s — the caller asked for this person" in lines
    assert "  2. [team] mari (Mari) rings for 20 s — ring_all: everyone free rings at once" in lines
    assert any(line.startswith("  3. [showroom] liis (Liis) rings for 25 s") for line in lines)
    assert "  - kati (Kati): already on 2 calls (takes at most 2)" in lines
    assert "Fallback: Partner at sip:testshop@127.0.0.3:5080, ringing 60 s" in lines


def test_closed_explanation_gives_the_message_and_next_opening(make_settings) -> None:
    settings = make_settings(outsourced=DISABLED)
    at = datetime(2026, 12, 24, 18, 30, tzinfo=TALLINN)
    text = text_for(settings, CallRequest(CallKind.WEB), at)
    assert "  shop: closed — public holiday: Christmas Eve" in text
    assert "  outsourced (Partner): disabled" in text
    assert "Steps: none — nobody is rung before the fallback" in text
    assert 'Fallback: closed message "We answer 9–17 on working days; please leave a call-back request"' in text
    assert "the shop answers again Monday 2026-12-28 09:00 Europe/Tallinn (UTC+02:00, EET)" in text


def test_summer_time_is_shown_with_its_offset(settings: Settings) -> None:
    at = datetime(2026, 6, 25, 11, 0, tzinfo=TALLINN)
    assert "(UTC+03:00, EEST)" in text_for(settings, CallRequest(CallKind.WEB), at).splitlines()[0]


def test_outbound_explanation_does_not_print_the_whole_number(settings: Settings) -> None:
    at = datetime(2026, 6, 25, 11, 0, tzinfo=TALLINN)
    text = text_for(settings, CallRequest(CallKind.OUTBOUND, dialled="+3725551234"), at)
    assert "+3725551234" not in text
    assert "234" in text
