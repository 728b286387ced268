"""A ring-all step too long for one Asterisk AGI command is rung in several steps, none lost."""

from __future__ import annotations

from datetime import UTC, datetime

from config.loader import parse_settings
from pbx_bridge.route_handler import MAX_DIAL_STRING, CallNote, RouteHandler, answer_value, target_refs
from routing.model import CallKind, CallRequest
from routing.planner import plan_call
from routing.presence import PresenceSnapshot

AGI_BUF_LEN = 2048  # res_agi.c: what Asterisk reads of one command


def _shop(staff: int) -> str:
    people = "".join(
        f'[[staff]]\nid = "p{n:03d}"\nname = "Person {n}"\nextension = "{100 + n}"\nsecret = "secret-p{n:03d}"\n'
        for n in range(staff)
    )
    return f"""
[shop]
id = "bigshop"
name = "Big shop"
timezone = "Europe/Tallinn"
[shop.hours]
wednesday = "09:00-17:00"
{people}
[outsourced]
enabled = false
[routing]
strategy = "ring_all"
[asterisk]
ami_secret = "x"
"""


def _steps(staff: int):
    settings = parse_settings(_shop(staff), "test")
    presence = PresenceSnapshot.all_available(p.id for p in settings.staff)
    handler = RouteHandler(settings, presence=lambda: presence)
    plan = plan_call(CallRequest(kind=CallKind.INBOUND, dialled="+3726005000"),
                     datetime(2026, 11, 25, 9, 0, tzinfo=UTC), presence, settings)
    return settings, handler._steps_for(plan, CallNote(kind="inbound"))


def test_a_ring_all_to_hundreds_of_phones_is_split_and_every_phone_rings() -> None:
    settings, steps = _steps(400)
    dials = [s for s in steps if s.action == "dial"]
    assert len(dials) > 1
    assert [s.label for s in dials][:2] == [f"team (1/{len(dials)})", f"team (2/{len(dials)})"]
    for step in dials:
        assert len(step.dial) <= MAX_DIAL_STRING
        command = f'SET VARIABLE TUGI_ANSWER "{answer_value(("dial", step.dial, step.ring))}"\n'
        assert len(command.encode()) < AGI_BUF_LEN
    rung = [ref for s in dials for ref in target_refs(s.dial)]
    assert sorted(rung) == sorted(p.id for p in settings.staff)


def test_a_team_that_fits_is_one_step() -> None:
    _, steps = _steps(20)
    assert [s.label for s in steps if s.action == "dial"] == ["team"]
