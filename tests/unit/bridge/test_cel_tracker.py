"""The call tracker, replaying CEL traces captured from a real Asterisk 22 (tests/fixtures/cel).

Re-capture with `python -m tests.support.cel_capture tests/fixtures/cel` (needs root for the
chroot Asterisk); the expectations below are what those scenarios did, so they survive a
re-capture: who rang whom, who answered, how long each pause in the script was.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from history.records import CallRecord, Channel, Disposition, PartyKind
from pbx_bridge.cel_csv import CSV_FIELDS, event_from_row, mapping_line, read_events, rebuild_records
from pbx_bridge.cel_tracker import CelTracker
from tests.support.cel_capture import CUSTOMER_NUMBER, capture_settings
from tests.support.cel_table import escape, format_table, load_table, parse_table, unescape

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "cel"
SETTINGS = capture_settings()
TOLERANCE = 0.3  # seconds: the capture script's pauses, give or take SIP and scheduling


def table(name: str) -> list[dict[str, str]]:
    return load_table(FIXTURES / f"{name}.txt")


def replay(events, tracker: CelTracker | None = None) -> tuple[list[CallRecord], CelTracker]:
    tracker = tracker or CelTracker(SETTINGS)
    records: list[CallRecord] = []
    for event in events:
        records += tracker.feed(event)
    return records, tracker


def csv_lines() -> list[str]:
    return (FIXTURES / "master.csv").read_text(encoding="utf-8").splitlines(keepends=True)


# ------------------------------------------------------------------- what each scenario was

# legs: (party kind, party ref, outcome, hangup cause, is caller), in start order
EXPECTED: dict[str, list[dict]] = {
    "internal_answered": [
        dict(
            channel=Channel.INTERNAL, disposition=Disposition.ANSWERED, answered_by="bob",
            caller=(PartyKind.STAFF, "alice"), targets=("bob",), transfers=0, wait=1.0, talk=2.0,
            legs=[("staff", "alice", "answered", 16, True), ("staff", "bob", "answered", 16, False)],
        )
    ],
    "internal_no_answer": [
        dict(
            channel=Channel.INTERNAL, disposition=Disposition.NO_ANSWER, answered_by=None,
            caller=(PartyKind.STAFF, "alice"), targets=("bob",), transfers=0, wait=6.0, talk=0.0,
            legs=[("staff", "alice", "no_answer", 16, True), ("staff", "bob", "no_answer", 0, False)],
        )
    ],
    "internal_busy": [
        dict(
            channel=Channel.INTERNAL, disposition=Disposition.BUSY, answered_by=None,
            caller=(PartyKind.STAFF, "alice"), targets=("bob",), transfers=0, wait=1.0, talk=0.0,
            legs=[("staff", "alice", "busy", 17, True), ("staff", "bob", "busy", 17, False)],
        )
    ],
    "internal_abandoned": [
        dict(
            channel=Channel.INTERNAL, disposition=Disposition.ABANDONED, answered_by=None,
            caller=(PartyKind.STAFF, "alice"), targets=("bob",), transfers=0, wait=2.0, talk=0.0,
            legs=[("staff", "alice", "cancelled", 127, True), ("staff", "bob", "cancelled", 127, False)],
        )
    ],
    "blind_transfer": [
        dict(
            channel=Channel.INTERNAL, disposition=Disposition.ANSWERED, answered_by="bob",
            caller=(PartyKind.STAFF, "alice"), targets=("bob", "carol"), transfers=1, wait=1.0, talk=5.5,
            legs=[
                ("staff", "alice", "answered", 16, True),
                ("staff", "bob", "transferred", 16, False),
                ("staff", "carol", "answered", 16, False),
            ],
        )
    ],
    "attended_transfer": [
        dict(
            channel=Channel.INTERNAL, disposition=Disposition.ANSWERED, answered_by="bob",
            caller=(PartyKind.STAFF, "alice"), targets=("bob", "carol"), transfers=1, wait=1.0, talk=8.0,
            legs=[
                ("staff", "alice", "answered", 16, True),
                ("staff", "bob", "transferred", 16, False),   # the call Alice made
                ("staff", "bob", "transferred", 16, False),   # Bob's consultation call to Carol
                ("staff", "carol", "answered", 16, False),
            ],
        )
    ],
    "two_simultaneous": [
        dict(
            channel=Channel.INTERNAL, disposition=Disposition.ANSWERED, answered_by="bob",
            caller=(PartyKind.STAFF, "alice"), targets=("bob",), transfers=0, wait=1.0, talk=2.0,
            legs=[("staff", "alice", "answered", 16, True), ("staff", "bob", "answered", 16, False)],
        ),
        dict(
            channel=Channel.PHONE, disposition=Disposition.ANSWERED, answered_by="outsourced",
            caller=(PartyKind.CUSTOMER, None), caller_number=CUSTOMER_NUMBER, targets=("outsourced",),
            transfers=0, wait=1.0, talk=2.5,
            legs=[("customer", None, "answered", 16, True), ("outsourced", "outsourced", "answered", 16, False)],
        ),
    ],
    "hold_unhold": [
        dict(
            channel=Channel.INTERNAL, disposition=Disposition.ANSWERED, answered_by="bob",
            caller=(PartyKind.STAFF, "alice"), targets=("bob",), transfers=0, wait=1.0, talk=4.0,
            legs=[("staff", "alice", "answered", 16, True), ("staff", "bob", "answered", 16, False)],
            hold={"bob": 2.0, "alice": 0.0},
        )
    ],
    "inbound_outsourced": [
        dict(
            channel=Channel.PHONE, disposition=Disposition.ANSWERED, answered_by="outsourced",
            caller=(PartyKind.CUSTOMER, None), caller_number=CUSTOMER_NUMBER, targets=("outsourced",),
            transfers=0, wait=1.0, talk=2.0,
            legs=[("customer", None, "answered", 16, True), ("outsourced", "outsourced", "answered", 16, False)],
        )
    ],
    "masked_failsafe": [
        dict(
            channel=Channel.MASKED, disposition=Disposition.FAILED, answered_by=None,
            caller=(PartyKind.CUSTOMER, None), caller_number=CUSTOMER_NUMBER, targets=(), transfers=0,
            talk=0.0, legs=[("customer", None, "failed", 16, True)],
        )
    ],
    "inbound_failover": [
        dict(
            channel=Channel.PHONE, disposition=Disposition.ANSWERED, answered_by="carol",
            caller=(PartyKind.CUSTOMER, None), caller_number=CUSTOMER_NUMBER,
            targets=("bob", "carol", "alice"), route=("person:bob", "team"), transfers=0, wait=2.5, talk=2.0,
            legs=[
                ("customer", None, "answered", 16, True),
                ("staff", "bob", "busy", 17, False),
                ("staff", "carol", "answered", 16, False),
                ("staff", "alice", "cancelled", 26, False),
            ],
        )
    ],
    "outbound_answered": [
        dict(
            channel=Channel.OUTBOUND, disposition=Disposition.ANSWERED, answered_by=None,
            caller=(PartyKind.STAFF, "alice"), callee_number=CUSTOMER_NUMBER, targets=("customer",),
            route=("outbound",), transfers=0, wait=1.0, talk=2.0,
            legs=[("staff", "alice", "answered", 16, True), ("customer", None, "answered", 16, False)],
        )
    ],
    "masked_refused": [
        dict(
            channel=Channel.MASKED, disposition=Disposition.REFUSED, answered_by=None,
            caller=(PartyKind.CUSTOMER, None), caller_number=CUSTOMER_NUMBER, targets=(), transfers=0,
            talk=0.0, legs=[("customer", None, "failed", 21, True)], extra={"refused": "no_session"},
        )
    ],
}


def check(record: CallRecord, want: dict) -> None:
    assert record.channel == want["channel"]
    assert record.disposition == want["disposition"]
    assert record.answered_by == want["answered_by"]
    assert (record.caller_kind, record.caller_ref) == want["caller"]
    assert record.caller_number == want.get("caller_number")
    assert record.callee_number == want.get("callee_number")
    assert record.targets_tried == want["targets"]
    assert record.route == want.get("route", ())
    assert record.transfers == want["transfers"]
    assert record.extra == want.get("extra", {})
    assert record.talk_seconds == pytest.approx(want["talk"], abs=TOLERANCE)
    if "wait" in want:
        assert record.wait_seconds == pytest.approx(want["wait"], abs=TOLERANCE)
    got = [(leg.party_kind.value, leg.party_ref, leg.outcome, leg.hangup_cause, leg.is_caller) for leg in record.legs]
    assert got == want["legs"]
    # the caller is the first leg and the record's linked id is its own
    assert record.legs[0].is_caller and record.linkedid == record.legs[0].uniqueid
    assert record.started_at == record.legs[0].started_at
    assert record.ended_at >= max(leg.ended_at for leg in record.legs)
    assert record.started_at.tzinfo is not None and record.started_at.utcoffset() == timedelta(0)
    assert record.uniqueids == tuple(leg.uniqueid for leg in record.legs)
    assert record.source == "ami"
    if record.disposition == Disposition.ANSWERED:
        callees = [leg for leg in record.legs if not leg.is_caller and leg.answered_at]
        first = min(callees, key=lambda leg: leg.answered_at)
        assert record.answered_at == first.answered_at
        assert 0 <= record.queue_seconds < 0.1
    else:
        assert record.answered_at is None
    for leg in record.legs:
        assert leg.started_at <= leg.ended_at
        assert leg.answered_at is None or leg.started_at <= leg.answered_at <= leg.ended_at
        if leg.outcome == "transferred":
            target = next(other for other in record.legs if other.uniqueid == leg.transferred_to)
            assert target.party_ref == "carol" and target.outcome == "answered"
        else:
            assert leg.transferred_to is None
    for ref, seconds in want.get("hold", {}).items():
        (leg,) = [leg for leg in record.legs if leg.party_ref == ref]
        assert leg.hold_seconds == pytest.approx(seconds, abs=TOLERANCE)


@pytest.mark.parametrize("scenario", sorted(EXPECTED))
def test_a_captured_scenario_becomes_the_expected_records(scenario: str) -> None:
    events = table(scenario)
    records, tracker = replay(events)
    assert len(records) == len(EXPECTED[scenario])
    for record, want in zip(records, EXPECTED[scenario], strict=True):
        check(record, want)
    # every channel of the trace is in exactly one record, and nothing is left open
    cel_ids = {e["UniqueID"] for e in events if e["Event"] == "CEL"}
    assert sorted(u for r in records for u in r.uniqueids) == sorted(cel_ids)
    assert tracker.live_calls() == []
    assert tracker.stats["errors"] == tracker.stats["malformed"] == tracker.stats["unknown"] == 0
    assert tracker.stats["records"] == len(records)


def test_every_fixture_has_its_expectations() -> None:
    assert {p.stem for p in FIXTURES.glob("*.txt")} == set(EXPECTED)


def test_ring_hold_and_talk_times_per_leg() -> None:
    (record,) = replay(table("hold_unhold"))[0]
    _alice, bob = record.legs
    assert bob.ring_seconds == pytest.approx(1.0, abs=TOLERANCE)
    assert bob.hold_seconds == pytest.approx(2.0, abs=TOLERANCE)
    assert bob.talk_seconds == pytest.approx(4.0 - 2.0, abs=TOLERANCE)   # talk minus hold
    (record,) = replay(table("attended_transfer"))[0]
    bob_first = record.legs[1]
    assert bob_first.hold_seconds == pytest.approx(3.5, abs=TOLERANCE)   # held while consulting Carol
    (record,) = replay(table("internal_no_answer"))[0]
    assert record.legs[1].ring_seconds == pytest.approx(SETTINGS.routing.team_ring_seconds, abs=TOLERANCE)


def test_attended_transfer_merges_two_linked_ids_into_one_call() -> None:
    events = table("attended_transfer")
    linked = {e["LinkedID"] for e in events if e["Event"] == "CEL"}
    assert len(linked) == 2                      # Alice's call and Bob's consultation
    (record,) = replay(events)[0]
    assert len(record.legs) == 4
    carol = record.legs[3]
    assert record.legs[1].transferred_to == record.legs[2].transferred_to == carol.uniqueid


def test_the_whole_capture_run_interleaved_gives_every_record_once() -> None:
    every = [e for name in EXPECTED for e in table(name)]
    every.sort(key=lambda e: float(e["Timestamp"]))
    records, tracker = replay(every)
    separately = [r for name in sorted(EXPECTED) for r in replay(table(name))[0]]
    key = lambda r: r.linkedid  # noqa: E731
    assert sorted(records, key=key) == sorted(separately, key=key)
    assert tracker.live_calls() == []


def test_live_calls_show_a_call_in_progress() -> None:
    events = table("inbound_failover")
    tracker = CelTracker(SETTINGS)
    ringing_at = next(i for i, e in enumerate(events) if e["EventName"] == "CHAN_START" and "alice" in e["Channel"])
    replay(events[: ringing_at + 1], tracker)
    (live,) = tracker.live_calls()
    assert live.channel == Channel.PHONE and live.caller_kind == PartyKind.CUSTOMER
    assert live.ringing == ("carol", "alice") and live.answered_by is None
    bridged_at = next(i for i, e in enumerate(events) if e["EventName"] == "BRIDGE_ENTER")
    replay(events[ringing_at + 1 : bridged_at + 1], tracker)
    (live,) = tracker.live_calls()
    assert live.answered_by == "carol" and live.ringing == () and set(live.talking) == {"carol", "customer"}
    records, _ = replay(events[bridged_at + 1 :], tracker)
    assert len(records) == 1 and tracker.live_calls() == []


# ------------------------------------------------------------------- robustness

ALL_EVENTS = [e for name in sorted(EXPECTED) for e in table(name)]
FULL_RECORDS = {r.linkedid: r for r in replay(ALL_EVENTS)[0]}


def assert_sane(records: list[CallRecord], tracker: CelTracker) -> None:
    assert tracker.stats["errors"] == 0
    seen: Counter[str] = Counter(u for r in records for u in r.uniqueids)
    assert not [u for u, n in seen.items() if n > 1], "a channel ended up in two records"
    linked = Counter(r.linkedid for r in records)
    assert not [k for k, n in linked.items() if n > 1], "a call was recorded twice"


def test_duplicated_events_change_nothing() -> None:
    doubled = [e for e in ALL_EVENTS for _ in (0, 1)]
    records, tracker = replay(doubled)
    assert {r.linkedid: r for r in records} == FULL_RECORDS
    assert tracker.stats["duplicates"] + tracker.stats["late"] == len(ALL_EVENTS)
    # the same stream again, after every record went out: nothing new
    again, _ = replay(ALL_EVENTS, tracker)
    assert again == []


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_duplicates_anywhere_later_never_corrupt_a_record(data: st.DataObject) -> None:
    stream: list[dict[str, str]] = []
    for event in ALL_EVENTS:
        stream.append(event)
        if data.draw(st.booleans()):
            stream.append(stream[data.draw(st.integers(0, len(stream) - 1))])
    records, tracker = replay(stream)
    assert_sane(records, tracker)
    assert {r.linkedid: r for r in records} == FULL_RECORDS


@settings(max_examples=100, deadline=None)
@given(st.integers(0, len(ALL_EVENTS)))
def test_a_truncated_stream_gives_only_whole_records(cut: int) -> None:
    records, tracker = replay(ALL_EVENTS[:cut])
    assert_sane(records, tracker)
    for record in records:
        assert record == FULL_RECORDS[record.linkedid]
    flushed = tracker.flush(force=True)
    assert_sane(records + flushed, tracker)
    for record in flushed:
        if record.extra.get("partial") != "true":
            # every channel had ended; only the LINKEDID_END was cut off
            full = FULL_RECORDS[record.linkedid]
            assert record == replace(full, ended_at=record.ended_at, queue_seconds=record.queue_seconds)
            assert abs((full.ended_at - record.ended_at).total_seconds()) < 0.01
            assert record.queue_seconds == pytest.approx(full.queue_seconds, abs=0.01)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.integers(0, len(ALL_EVENTS) - 1), max_size=3 * len(ALL_EVENTS)))
def test_shuffled_duplicated_and_missing_events_never_raise_or_split_a_channel(picks: list[int]) -> None:
    stream = [ALL_EVENTS[i] for i in picks]
    records, tracker = replay(stream)
    records += tracker.flush(force=True)
    assert_sane(records, tracker)
    assert tracker.live_calls() == []


@settings(max_examples=100, deadline=None)
@given(st.permutations(table("attended_transfer") + table("blind_transfer")))
def test_shuffled_transfers_never_raise_or_split_a_channel(stream: list[dict[str, str]]) -> None:
    records, tracker = replay(stream)
    records += tracker.flush(force=True)
    assert_sane(records, tracker)


garbage = st.dictionaries(
    st.sampled_from(["Event", "EventName", "EventTime", "UniqueID", "LinkedID", "Channel", "Extra", "AppData",
                     "Application", "Peer", "Timestamp", "UserDefType", "Uniqueid"]),
    st.one_of(st.text(max_size=20), st.sampled_from(["CEL", "Hold", "HANGUP", "LINKEDID_END", "BRIDGE_ENTER",
                                                      "APP_START", "Dial", "{}", "{\"hangupcause\":\"x\"}",
                                                      "1795443671.0", "2026-11-23 14:21:11", "PJSIP/bob-00000001"])),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(garbage, max_size=30))
def test_malformed_events_are_counted_and_skipped(events: list[dict]) -> None:
    records, tracker = replay([*events, None, 42, "CEL", {}])  # type: ignore[list-item]
    records += tracker.flush(force=True)
    assert tracker.stats["errors"] == 0
    assert tracker.stats["malformed"] + tracker.stats["unknown"] >= 4


def test_malformed_and_unknown_are_told_apart() -> None:
    tracker = CelTracker(SETTINGS)
    assert tracker.feed({"Event": "CEL", "EventName": "CHAN_START"}) == []          # no uniqueid
    assert tracker.feed({"Event": "CEL", "EventName": "ANSWER", "UniqueID": "1.1", "EventTime": "yesterday"}) == []
    assert tracker.feed({"Event": "Newchannel", "Uniqueid": "1.1"}) == []
    assert tracker.feed({"Event": "CEL", "EventName": "MYSTERY", "UniqueID": "1.1", "EventTime": "1.5"}) == []
    assert tracker.stats["malformed"] == 2 and tracker.stats["unknown"] == 2
    assert tracker.live_calls() == []


# ------------------------------------------------------------------- time

def test_event_times_are_utc_and_as_precise_as_the_event_allows() -> None:
    base = {"Event": "CEL", "EventName": "CHAN_START", "UniqueID": "9.1", "LinkedID": "9.1",
            "Channel": "PJSIP/alice-00000001", "Context": "tugi-internal", "Exten": "202"}

    def start_of(event: dict, **kwargs) -> datetime:
        tracker = CelTracker(SETTINGS, **kwargs)
        tracker.feed(event)
        return tracker.live_calls()[0].started_at

    # AMI: whole seconds in EventTime, microseconds in the Timestamp header
    ami = dict(base, EventTime="2026-11-23 14:21:11", Timestamp="1795443671.948522")
    assert start_of(ami) == datetime(2026, 11, 23, 14, 21, 11, 948522, tzinfo=UTC)
    # CSV without dateformat: epoch with microseconds
    assert start_of(dict(base, EventTime="1795443671.948235")) == datetime(2026, 11, 23, 14, 21, 11, 948235, tzinfo=UTC)
    # a local date from an Asterisk that runs in another zone
    tallinn = timezone(timedelta(hours=2))
    got = start_of(dict(base, EventTime="2026-11-23 16:21:11.5"), pbx_timezone=tallinn)
    assert got == datetime(2026, 11, 23, 14, 21, 11, 500000, tzinfo=UTC) and got.tzinfo == UTC


def test_hold_events_without_a_timestamp_use_the_clock() -> None:
    now = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)
    clock = iter([now, now + timedelta(seconds=3)])
    tracker = CelTracker(SETTINGS, clock=lambda: next(clock))
    events = table("internal_answered")
    bridged = next(i for i, e in enumerate(events) if e["EventName"] == "BRIDGE_ENTER")
    replay(events[: bridged + 1], tracker)
    bob = next(e for e in events if "bob" in e["Channel"])
    ids = {"Uniqueid": bob["UniqueID"], "Linkedid": bob["LinkedID"], "Channel": bob["Channel"]}
    tracker.feed({"Event": "Hold", **ids})
    tracker.feed({"Event": "Unhold", **ids})
    (record,) = replay(events[bridged + 1 :], tracker)[0]
    assert record.legs[1].hold_seconds == pytest.approx(3.0)


# ------------------------------------------------------------------- user events from Tugi's router

def test_tugi_user_events_set_route_references_and_refusal() -> None:
    events = table("internal_busy")
    caller = events[0]
    extra = [
        ("TUGI_REF", "order=ORD-17"), ("TUGI_REF", "case=CASE-3"), ("TUGI_REF", "bogus=1"), ("OTHER_APP", "x"),
    ]
    user = [
        dict(
            caller, EventName="USER_DEFINED", UserDefType=name, Application="CELGenUserEvent",
            AppData=f"{name},{value}", Extra=json.dumps({"extra": value}),
            Timestamp=str(float(caller["Timestamp"]) + i * 1e-4),
        )
        for i, (name, value) in enumerate(extra, start=1)
    ]
    (record,) = replay([events[0], *user, *events[1:]])[0]
    assert record.order_ref == "ORD-17" and record.case_ref == "CASE-3" and record.page_ref is None
    assert record.disposition == Disposition.BUSY   # refusal only counts when nobody was dialled


# ------------------------------------------------------------------- the CSV (reconciliation)

def test_the_template_writes_the_columns_the_reader_expects() -> None:
    template = Path(__file__).resolve().parents[3] / "dialplans" / "templates" / "cel_custom.conf.j2"
    lines = template.read_text().splitlines()
    assert mapping_line() in lines
    assert lines.index("[mappings]") < lines.index(mapping_line())


def test_the_csv_of_the_capture_run_rebuilds_the_same_records() -> None:
    from_csv = {r.linkedid: r for r in rebuild_records(SETTINGS, csv_lines())}
    assert set(from_csv) == set(FULL_RECORDS)
    for linkedid, live in FULL_RECORDS.items():
        rebuilt = from_csv[linkedid]
        assert rebuilt.source == "reconciliation"
        for name in ("channel", "disposition", "answered_by", "caller_kind", "caller_ref", "caller_number",
                     "callee_number", "route", "targets_tried", "transfers", "uniqueids", "extra"):
            assert getattr(rebuilt, name) == getattr(live, name), name
        for name in ("started_at", "ended_at", "answered_at"):
            a, b = getattr(rebuilt, name), getattr(live, name)
            assert (a is None) == (b is None)
            if a is not None:
                assert abs((a - b).total_seconds()) < 0.05, name
        for leg_csv, leg_ami in zip(rebuilt.legs, live.legs, strict=True):
            for name in ("uniqueid", "party_kind", "party_ref", "outcome", "hangup_cause", "transferred_to"):
                assert getattr(leg_csv, name) == getattr(leg_ami, name), name
            assert leg_csv.hold_seconds == 0.0     # CEL has no hold: only the live AMI stream knows


def test_rebuild_keeps_the_calls_that_ended_during_the_outage() -> None:
    everything = rebuild_records(SETTINGS, csv_lines())
    since = everything[5].ended_at
    recent = rebuild_records(SETTINGS, csv_lines(), since=since)
    assert recent == [r for r in everything if r.ended_at >= since] and 0 < len(recent) < len(everything)


def test_a_row_being_written_and_broken_rows_are_skipped() -> None:
    lines = csv_lines()
    errors: Counter[str] = Counter()
    cut = lines[-1][: len(lines[-1]) // 2]                        # the file is being written
    broken = ['"CHAN_START","only","three"\n', 'not "csv at all\n', "\n", '"a""b",\x00\n']
    # a broken row in the middle costs that row only, never the rows after it
    events = list(read_events(lines[:10] + broken + lines[10:-1] + [cut], errors))
    assert events == list(read_events(lines[:-1]))
    assert errors["malformed"] >= 2 and errors["unfinished"] == 1
    # every channel of the last call ended, only LINKEDID_END is missing: it is finished
    assert len(rebuild_records(SETTINGS, lines[:-1])) == len(FULL_RECORDS)
    # the last call's channel is still up at the end of the file: left to the live tracker
    assert lines[-3].startswith('"HANGUP"')
    assert len(rebuild_records(SETTINGS, lines[:-3])) == len(FULL_RECORDS) - 1
    (*_, last) = rebuild_records(SETTINGS, lines[:-3], include_unfinished=True)
    assert last.extra == {"refused": "no_session", "partial": "true"}


def test_csv_rows_read_like_ami_events() -> None:
    rows = list(read_events(csv_lines()))
    user = next(e for e in rows if e["UserDefType"] == "TUGI_ROUTE")
    assert user["EventName"] == "USER_DEFINED" and user["Extra"] == '{"extra":"person:bob"}'
    assert all(set(e) == {"Event", *CSV_FIELDS} for e in rows)
    assert event_from_row(["x"] * (len(CSV_FIELDS) - 1)) is None


# ------------------------------------------------------------------- the fixture format

def test_tables_round_trip() -> None:
    for path in FIXTURES.glob("*.txt"):
        text = path.read_text(encoding="ascii")
        assert format_table(parse_table(text)) == text


@given(st.text())
def test_cells_escape_and_unescape(value: str) -> None:
    cell = escape(value)
    assert cell.isascii() and "|" not in cell.replace("\\|", "") and cell == cell.strip()
    assert unescape(cell) == value


def test_a_table_with_awkward_values_round_trips() -> None:
    event = {"Event": "CEL", "EventName": "CHAN_START", "EventTime": "2026-01-01 00:00:00", "Timestamp": "1.5",
             "CallerIDnum": "", "CallerIDname": " Jõgi | \"Mari\"\\ ", "Exten": "s", "Context": "c",
             "Channel": "PJSIP/x-00000001", "Application": "", "AppData": "a\nb", "UniqueID": "1.1",
             "LinkedID": "1.1", "Peer": "", "Extra": "{}"}
    (back,) = parse_table(format_table([event]))
    assert back == event


# ------------------------------------------------------------------- kinds of call and parties

def _rewrite(events: list[dict[str, str]], **replacements: str) -> list[dict[str, str]]:
    out = []
    for event in events:
        changed = dict(event)
        for key, value in changed.items():
            for old, new in replacements.items():
                value = value.replace(old.replace("__", "/"), new)
            changed[key] = value
        out.append(changed)
    return out


def test_the_kind_of_call_comes_from_tugis_agi_step_else_from_the_entry_context() -> None:
    events = table("internal_answered")
    web = _rewrite(events, PJSIP__alice="PJSIP/tugi-web-guest", **{"route,internal": "route,web"})
    (record,) = replay(web)[0]
    assert record.channel == Channel.WEB and record.caller_kind == PartyKind.WEB_VISITOR
    assert record.caller_ref is None and record.answered_by == "bob"
    # without the AGI step (Tugi's dialplan changed, or the event was lost): the entry context
    no_agi = [e for e in events if e["Application"] != "AGI"]
    assert replay(no_agi)[0][0].channel == Channel.INTERNAL
    masked = [e for e in table("masked_failsafe") if e["Application"] != "AGI"]
    assert replay(masked)[0][0].channel == Channel.MASKED
    phone = [e for e in table("inbound_outsourced") if e["Application"] != "AGI"]
    assert replay(phone)[0][0].channel == Channel.PHONE
    outbound = [e for e in table("outbound_answered") if e["Application"] != "AGI"]
    assert replay(outbound)[0][0].channel == Channel.OUTBOUND


def test_local_channels_join_the_call_but_are_not_legs() -> None:
    events = table("internal_answered")
    bob = next(e for e in events if e["EventName"] == "CHAN_START" and "bob" in e["Channel"])
    local = [
        dict(bob, EventName=name, Channel="Local/202@tugi-internal-00000009;1", UniqueID="1795443671.9",
             Timestamp=str(float(bob["Timestamp"]) + 0.0001 * i))
        for i, name in enumerate(("CHAN_START", "HANGUP", "CHAN_END"), start=1)
    ]
    at = events.index(bob) + 1
    (record,) = replay(events[:at] + local + events[at:])[0]
    assert [leg.party_ref for leg in record.legs] == ["alice", "bob"]
    assert "1795443671.9" in record.uniqueids
