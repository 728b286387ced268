from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from config.schema import Settings
from routing.announcement import NOBODY_FREE
from routing.model import CallKind, CallRequest, Plan, Target
from routing.planner import OUTBOUND_RING_SECONDS, plan_call
from routing.presence import DeviceState, PersonPresence, PresenceSnapshot, SelfStatus

TALLINN = ZoneInfo("Europe/Tallinn")
TUESDAY_11 = datetime(2026, 12, 22, 11, 0, tzinfo=TALLINN)  # shop and showroom open
TUESDAY_0930 = datetime(2026, 12, 22, 9, 30, tzinfo=TALLINN)  # shop open, showroom not yet
TUESDAY_20 = datetime(2026, 12, 22, 20, 0, tzinfo=TALLINN)  # after hours
CHRISTMAS_EVE = datetime(2026, 12, 24, 18, 30, tzinfo=TALLINN)

WEB = CallRequest(CallKind.WEB)
DISABLED = '[outsourced]\nenabled = false\nname = "Partner"\n'


def everyone(settings: Settings) -> PresenceSnapshot:
    return PresenceSnapshot.all_available(s.id for s in settings.staff)


def busy(staff_id: str, calls: int = 1) -> PersonPresence:
    return PersonPresence(staff_id, DeviceState.INUSE, registered=True, active_calls=calls)


def offline(staff_id: str) -> PersonPresence:
    return PersonPresence(staff_id)


def presence_with(settings: Settings, *people: PersonPresence) -> PresenceSnapshot:
    snapshot = everyone(settings)
    for person in people:
        snapshot = snapshot.with_person(person)
    return snapshot


def step_refs(plan: Plan) -> list[list[str]]:
    return [[t.ref for t in step.targets] for step in plan.steps]


def test_open_shop_rings_the_team_then_the_showroom_then_outsourced(settings: Settings) -> None:
    plan = plan_call(WEB, TUESDAY_11, everyone(settings), settings)
    assert step_refs(plan) == [["mari", "jaan", "kati"], ["liis"]]
    team, showroom = plan.steps
    assert team.ring_seconds == 20 and team.label == "team"
    assert all(t.kind == "staff" for t in team.targets)
    assert showroom.targets == (Target("showroom", "liis"),) and showroom.ring_seconds == 25
    assert plan.fallback.kind == "outsourced"
    assert plan.fallback.target == Target("outsourced", "sip:testshop@127.0.0.3:5080")
    assert plan.fallback.ring_seconds == 60
    assert plan.skipped == ()
    assert plan.reasons[0] == "the shop is open (Tuesday 09:00-17:00)"


@pytest.mark.parametrize("kind", [CallKind.WEB, CallKind.CALLBACK, CallKind.INBOUND])
def test_customer_kinds_are_planned_alike(settings: Settings, kind: CallKind) -> None:
    plan = plan_call(CallRequest(kind), TUESDAY_11, everyone(settings), settings)
    assert step_refs(plan) == [["mari", "jaan", "kati"], ["liis"]]


def test_showroom_closed_skips_its_specialists(settings: Settings) -> None:
    plan = plan_call(WEB, TUESDAY_0930, everyone(settings), settings)
    assert step_refs(plan) == [["mari", "jaan", "kati"]]
    assert plan.skipped == (("liis", "the showroom is closed (Tuesday 10:00-18:00)"),)


def test_requested_person_rings_first_then_the_rest_of_the_team(settings: Settings) -> None:
    plan = plan_call(CallRequest(CallKind.WEB, requested_person="jaan"), TUESDAY_11, everyone(settings), settings)
    assert step_refs(plan) == [["jaan"], ["mari", "kati"], ["liis"]]
    assert plan.steps[0].ring_seconds == 15
    assert plan.steps[0].label == "requested person"


def test_requested_showroom_specialist_rings_as_a_person(settings: Settings) -> None:
    plan = plan_call(CallRequest(CallKind.WEB, requested_person="liis"), TUESDAY_11, everyone(settings), settings)
    assert step_refs(plan) == [["liis"], ["mari", "jaan", "kati"]]
    assert plan.steps[0].targets == (Target("staff", "liis"),)


def test_unknown_requested_person_falls_to_the_team(settings: Settings) -> None:
    plan = plan_call(CallRequest(CallKind.WEB, requested_person="x"), TUESDAY_11, everyone(settings), settings)
    assert "requested person 'x' does not exist; ringing the team" in plan.reasons
    assert step_refs(plan)[0] == ["mari", "jaan", "kati"]


def test_busy_requested_person_is_skipped_and_the_team_rings(settings: Settings) -> None:
    presence = presence_with(settings, busy("jaan"))
    plan = plan_call(CallRequest(CallKind.WEB, requested_person="jaan"), TUESDAY_11, presence, settings)
    assert step_refs(plan) == [["mari", "kati"], ["liis"]]
    assert dict(plan.skipped)["jaan"] == "already on 1 call (takes at most 1)"
    assert any(r.startswith("requested person 'jaan' cannot answer") for r in plan.reasons)


def test_last_handler_of_the_open_order_rings_before_the_team(settings: Settings) -> None:
    request = CallRequest(CallKind.WEB, last_handler="kati", order_ref="A-1001")
    plan = plan_call(request, TUESDAY_11, everyone(settings), settings)
    assert step_refs(plan) == [["kati"], ["mari", "jaan"], ["liis"]]
    assert plan.steps[0].reason == "handled this customer's open order last"
    assert plan.steps[0].ring_seconds == 15


def test_requested_person_comes_before_last_handler(settings: Settings) -> None:
    request = CallRequest(CallKind.WEB, requested_person="mari", last_handler="kati", order_ref="A-1")
    plan = plan_call(request, TUESDAY_11, everyone(settings), settings)
    assert step_refs(plan) == [["mari"], ["kati"], ["jaan"], ["liis"]]


def test_last_handler_who_is_also_requested_rings_once(settings: Settings) -> None:
    request = CallRequest(CallKind.WEB, requested_person="kati", last_handler="kati")
    plan = plan_call(request, TUESDAY_11, everyone(settings), settings)
    assert step_refs(plan) == [["kati"], ["mari", "jaan"], ["liis"]]


def test_last_handler_preference_can_be_switched_off(make_settings) -> None:
    settings = make_settings(routing="[routing]\nprefer_last_handler = false\n")
    request = CallRequest(CallKind.WEB, last_handler="kati", order_ref="A-1")
    plan = plan_call(request, TUESDAY_11, everyone(settings), settings)
    assert step_refs(plan) == [["mari", "jaan", "kati"], ["liis"]]


def test_skills_narrow_the_team(settings: Settings) -> None:
    plan = plan_call(CallRequest(CallKind.WEB, skills=("Returns",)), TUESDAY_11, everyone(settings), settings)
    assert step_refs(plan) == [["jaan"], ["liis"]]
    assert dict(plan.skipped) == {"mari": "lacks skill returns", "kati": "lacks skill returns"}
    assert "team narrowed to people with skill returns" in plan.reasons


def test_skill_and_language_together(settings: Settings) -> None:
    request = CallRequest(CallKind.WEB, skills=("sales",), language="en")
    plan = plan_call(request, TUESDAY_11, everyone(settings), settings)
    assert step_refs(plan)[0] == ["mari"]
    assert dict(plan.skipped)["kati"] == "does not speak en"


def test_nobody_with_the_skill_rings_the_whole_team_and_says_so(settings: Settings) -> None:
    plan = plan_call(CallRequest(CallKind.WEB, language="fi"), TUESDAY_11, everyone(settings), settings)
    assert step_refs(plan)[0] == ["mari", "jaan", "kati"]
    assert "nobody free in the team has language fi; ringing the whole team" in plan.reasons


def test_busy_skilled_person_leaves_the_rest_of_the_team(settings: Settings) -> None:
    presence = presence_with(settings, busy("jaan"))
    plan = plan_call(CallRequest(CallKind.WEB, skills=("returns",)), TUESDAY_11, presence, settings)
    assert step_refs(plan)[0] == ["mari", "kati"]


@pytest.mark.parametrize(
    "person",
    [
        PersonPresence("jaan", DeviceState.NOT_INUSE, registered=True, status=SelfStatus.AWAY),
        PersonPresence("jaan", DeviceState.NOT_INUSE, registered=True, status=SelfStatus.DND),
        PersonPresence("jaan", DeviceState.NOT_INUSE, registered=True, status=SelfStatus.WALK_IN),
        PersonPresence("jaan", DeviceState.UNAVAILABLE, registered=True),
        offline("jaan"),
        busy("jaan"),
    ],
)
def test_unreachable_team_member_is_skipped_with_a_reason(settings: Settings, person: PersonPresence) -> None:
    plan = plan_call(WEB, TUESDAY_11, presence_with(settings, person), settings)
    assert step_refs(plan)[0] == ["mari", "kati"]
    assert "jaan" in dict(plan.skipped)


def test_second_call_for_someone_who_takes_two(settings: Settings) -> None:
    plan = plan_call(WEB, TUESDAY_11, presence_with(settings, busy("kati", 1)), settings)
    assert "kati" in step_refs(plan)[0]
    plan = plan_call(WEB, TUESDAY_11, presence_with(settings, busy("kati", 2)), settings)
    assert "kati" not in step_refs(plan)[0]


def test_nobody_reachable_goes_straight_to_outsourced(settings: Settings) -> None:
    plan = plan_call(WEB, TUESDAY_11, PresenceSnapshot(), settings)
    assert plan.steps == ()
    assert plan.fallback.kind == "outsourced"
    assert "nobody in the shop is free to answer; going straight to the fallback" in plan.reasons
    assert {s for s, _ in plan.skipped} == {"mari", "jaan", "kati", "liis"}


def test_nobody_reachable_and_no_outsourced_gives_a_message(make_settings) -> None:
    settings = make_settings(outsourced=DISABLED)
    plan = plan_call(WEB, TUESDAY_11, PresenceSnapshot(), settings)
    assert plan.fallback.kind == "closed_message"
    assert plan.fallback.announcement == NOBODY_FREE
    assert plan.fallback.next_opening is None


def test_after_hours_goes_to_outsourced_without_ringing_anyone(settings: Settings) -> None:
    request = CallRequest(CallKind.WEB, requested_person="mari", last_handler="jaan")
    plan = plan_call(request, TUESDAY_20, everyone(settings), settings)
    assert plan.steps == ()
    assert plan.fallback.kind == "outsourced"
    assert plan.reasons == ("the shop is closed (Tuesday 09:00-17:00); its team is not rung",)


def test_christmas_eve_is_closed(settings: Settings) -> None:
    plan = plan_call(WEB, CHRISTMAS_EVE, everyone(settings), settings)
    assert plan.steps == ()
    assert "public holiday: Christmas Eve" in plan.reasons[0]


def test_after_hours_with_outsourced_disabled_gives_the_closed_message(make_settings) -> None:
    settings = make_settings(outsourced=DISABLED)
    plan = plan_call(WEB, CHRISTMAS_EVE, everyone(settings), settings)
    assert plan.fallback.kind == "closed_message"
    assert plan.fallback.announcement == "We answer 9–17 on working days; please leave a call-back request"
    assert plan.fallback.next_opening == datetime(2026, 12, 28, 9, 0, tzinfo=TALLINN)
    assert plan.fallback.reason == "the shop is closed and the outsourced centre is disabled"


def test_outsourced_closed_too_gives_the_closed_message(make_settings) -> None:
    settings = make_settings(outsourced='[outsourced]\nname = "Partner"\n[outsourced.hours]\nmonday = "17:00-19:00"\n')
    plan = plan_call(WEB, TUESDAY_20, everyone(settings), settings)
    assert plan.fallback.kind == "closed_message"
    assert "Partner is closed too" in plan.fallback.reason


def test_round_robin_rings_one_at_a_time_from_the_rotation(make_settings) -> None:
    settings = make_settings(routing='[routing]\nstrategy = "round_robin"\n')
    plan = plan_call(WEB, TUESDAY_11, everyone(settings), settings, rotation=1)
    assert step_refs(plan) == [["jaan"], ["kati"], ["mari"], ["liis"]]
    assert [s.label for s in plan.steps] == ["team 1/3", "team 2/3", "team 3/3", "showroom"]


def test_longest_idle_uses_last_call_end(make_settings) -> None:
    settings = make_settings(routing='[routing]\nstrategy = "longest_idle"\n')
    ended = datetime(2026, 12, 22, 10, 0, tzinfo=TALLINN)
    presence = presence_with(settings, PersonPresence("mari", DeviceState.NOT_INUSE, True, last_call_ended_at=ended))
    plan = plan_call(WEB, TUESDAY_11, presence, settings)
    assert step_refs(plan) == [["jaan"], ["kati"], ["mari"], ["liis"]]


def test_internal_call_rings_the_extension(settings: Settings) -> None:
    plan = plan_call(CallRequest(CallKind.INTERNAL, dialled="103"), TUESDAY_20, everyone(settings), settings)
    assert plan.steps[0].targets == (Target("staff", "liis"),)
    assert plan.fallback.kind == "none"


def test_internal_call_to_a_busy_colleague(settings: Settings) -> None:
    presence = presence_with(settings, busy("liis"))
    plan = plan_call(CallRequest(CallKind.INTERNAL, dialled="103"), TUESDAY_11, presence, settings)
    assert plan.steps == ()
    assert plan.skipped == (("liis", "already on 1 call (takes at most 1)"),)
    assert plan.fallback.kind == "none"


def test_internal_call_to_nobody(settings: Settings) -> None:
    plan = plan_call(CallRequest(CallKind.INTERNAL, dialled="999"), TUESDAY_11, everyone(settings), settings)
    assert plan.steps == ()
    assert plan.reasons == ("extension 999 belongs to nobody on the staff",)


def test_outbound_rings_the_outside_number(settings: Settings) -> None:
    plan = plan_call(CallRequest(CallKind.OUTBOUND, dialled="+3725551234"), TUESDAY_20, everyone(settings), settings)
    assert plan.steps[0].targets == (Target("external", "+3725551234"),)
    assert plan.steps[0].ring_seconds == OUTBOUND_RING_SECONDS
    assert plan.fallback.kind == "none"


@pytest.mark.parametrize("dialled", [None, "5551234", "+372 555", "+3725551234&PJSIP/x"])
def test_outbound_needs_an_e164_number(settings: Settings, dialled: str | None) -> None:
    with pytest.raises(ValueError, match=r"E\.164"):
        plan_call(CallRequest(CallKind.OUTBOUND, dialled=dialled), TUESDAY_11, everyone(settings), settings)


def test_masked_calls_are_not_planned(settings: Settings) -> None:
    with pytest.raises(ValueError, match="masking"):
        plan_call(CallRequest(CallKind.MASKED), TUESDAY_11, everyone(settings), settings)


def test_naive_time_is_refused(settings: Settings) -> None:
    with pytest.raises(ValueError, match="time zone"):
        plan_call(WEB, datetime(2026, 12, 22, 11, 0), everyone(settings), settings)


def test_shop_without_staff(make_settings) -> None:
    settings = make_settings(staff="")
    plan = plan_call(WEB, TUESDAY_11, PresenceSnapshot(), settings)
    assert plan.steps == () and plan.skipped == ()
    assert plan.fallback.kind == "outsourced"


def test_on_a_saturday_the_showroom_answers_in_its_own_hours_before_the_outsourced_centre(settings: Settings) -> None:
    saturday_noon = datetime(2026, 12, 19, 12, 0, tzinfo=TALLINN)
    plan = plan_call(CallRequest(CallKind.WEB), saturday_noon, everyone(settings), settings)
    assert [step.label for step in plan.steps] == ["showroom"]
    assert all(t.kind == "showroom" for t in plan.steps[0].targets)
    assert plan.fallback.kind == "outsourced"
