"""Whatever presence, time and request: the planner never rings someone who cannot answer,
never rings anyone twice, and never crashes."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from config.schema import Settings
from routing.explain import explain
from routing.hours import is_open
from routing.model import CallKind, CallRequest
from routing.planner import plan_call
from routing.presence import DeviceState, PersonPresence, PresenceSnapshot, SelfStatus

IDS = ["mari", "jaan", "kati", "liis", "ghost"]

people = st.builds(
    PersonPresence,
    staff_id=st.sampled_from(IDS),
    device=st.sampled_from(DeviceState),
    registered=st.booleans(),
    status=st.sampled_from(SelfStatus),
    active_calls=st.integers(min_value=0, max_value=3),
    last_call_ended_at=st.none() | st.datetimes(timezones=st.just(UTC)),
)
snapshots = st.lists(people, max_size=6).map(PresenceSnapshot)
moments = st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2028, 12, 31), timezones=st.just(UTC))
requests = st.builds(
    CallRequest,
    kind=st.sampled_from([CallKind.WEB, CallKind.CALLBACK, CallKind.INBOUND]),
    requested_person=st.none() | st.sampled_from([*IDS, "Not-An-Id"]),
    skills=st.lists(st.sampled_from(["sales", "returns", "delivery", "Sales", "plumbing"]), max_size=2).map(tuple),
    language=st.none() | st.sampled_from(["et", "en", "fi", "ru", "de"]),
    order_ref=st.none() | st.just("A-1"),
    case_ref=st.none() | st.just("C-1"),
    last_handler=st.none() | st.sampled_from(IDS),
)
STRATEGIES = ['strategy = "ring_all"', 'strategy = "round_robin"', 'strategy = "longest_idle"']


@given(
    requests, moments, snapshots, st.integers(min_value=0, max_value=1000), st.sampled_from(STRATEGIES), st.booleans()
)
@hsettings(max_examples=400, deadline=None)
def test_planner_only_rings_reachable_people_once(
    make_settings,
    request: CallRequest,
    at: datetime,
    presence: PresenceSnapshot,
    rotation: int,
    strategy: str,
    outsourced: bool,
) -> None:
    settings: Settings = make_settings(
        routing=f"[routing]\n{strategy}\n", outsourced=f"[outsourced]\nenabled = {str(outsourced).lower()}\n"
    )
    plan = plan_call(request, at, presence, settings, rotation)
    rung = [t.ref for step in plan.steps for t in step.targets]
    assert len(rung) == len(set(rung)), "someone rings twice"
    for staff_id in rung:
        person = settings.staff_by_id(staff_id)
        assert person is not None
        assert presence.get(staff_id).is_reachable(person.max_calls)
    skipped = {s for s, _ in plan.skipped}
    assert not skipped & set(rung)
    assert all(step.targets and step.ring_seconds > 0 for step in plan.steps)
    if not is_open(settings.shop.hours, settings.shop.zone, at):
        # the shop line is closed: only the showroom rings, and only in its own hours
        assert all(step.label == "showroom" for step in plan.steps)
        if plan.steps:
            assert is_open(settings.showroom_hours, settings.shop.zone, at)
    if plan.fallback.kind == "outsourced":
        assert outsourced
    else:
        assert plan.fallback.kind == "closed_message"
        assert plan.fallback.announcement
    assert explain(plan, request, at, settings)
