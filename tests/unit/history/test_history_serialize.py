"""CallRecord <-> JSON for the writer's spool: nothing may be lost or change type on the way."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from history.records import CallRecord, Channel, Disposition, LegRecord, PartyKind
from history.serialize import dumps, loads, record_from_dict, record_to_dict

T0 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)

aware_times = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1),
    timezones=st.sampled_from([UTC, timezone(timedelta(hours=2)), timezone(timedelta(hours=-5, minutes=-30))]),
)
refs = st.none() | st.text(min_size=1, max_size=12)
seconds = st.floats(min_value=0, max_value=1e5, allow_nan=False)
legs = st.builds(
    LegRecord,
    uniqueid=st.text(min_size=1, max_size=20),
    party_kind=st.sampled_from(PartyKind),
    party_ref=refs,
    started_at=aware_times,
    ended_at=aware_times,
    answered_at=st.none() | aware_times,
    outcome=st.text(max_size=10),
    hangup_cause=st.none() | st.integers(0, 127),
    is_caller=st.booleans(),
    transferred_to=refs,
    hold_seconds=seconds,
)
records = st.builds(
    CallRecord,
    linkedid=st.text(min_size=1, max_size=20),
    channel=st.sampled_from(Channel),
    started_at=aware_times,
    ended_at=aware_times,
    disposition=st.sampled_from(Disposition),
    legs=st.lists(legs, max_size=3).map(tuple),
    answered_at=st.none() | aware_times,
    answered_by=refs,
    caller_kind=st.sampled_from(PartyKind),
    caller_ref=refs,
    caller_number=st.none() | st.from_regex(r"\+[1-9][0-9]{6,14}", fullmatch=True),
    callee_number=refs,
    customer_id=refs,
    case_ref=refs,
    order_ref=refs,
    page_ref=refs,
    route=st.lists(st.text(max_size=8), max_size=3).map(tuple),
    targets_tried=st.lists(st.text(max_size=8), max_size=3).map(tuple),
    queue_seconds=seconds,
    transfers=st.integers(0, 5),
    uniqueids=st.lists(st.text(min_size=1, max_size=20), max_size=4).map(tuple),
    source=st.sampled_from(["ami", "reconciliation"]),
    extra=st.dictionaries(st.text(max_size=5), st.text(max_size=10), max_size=3),
)


@given(records)
def test_every_record_round_trips(record: CallRecord) -> None:
    again = loads(dumps(record))
    assert again == record
    assert again.started_at.utcoffset() == record.started_at.utcoffset()
    assert type(again.channel) is Channel and type(again.legs) is tuple


def test_the_json_is_plain_and_versioned() -> None:
    record = CallRecord(
        linkedid="1.1", channel=Channel.WEB, started_at=T0, ended_at=T0 + timedelta(seconds=5),
        disposition=Disposition.ABANDONED, route=("team",), extra={"k": "v"},
    )
    data = json.loads(dumps(record))
    assert data["v"] == 1
    assert data["channel"] == "web" and data["disposition"] == "abandoned"
    assert data["started_at"] == "2025-03-03T09:00:00+00:00"
    assert data["route"] == ["team"] and data["legs"] == []
    assert record_from_dict(record_to_dict(record)) == record


def test_an_unknown_version_or_a_naive_time_is_refused() -> None:
    record = CallRecord(linkedid="1", channel=Channel.WEB, started_at=T0, ended_at=T0,
                        disposition=Disposition.FAILED)
    data = record_to_dict(record)
    with pytest.raises(ValueError, match="version 2"):
        record_from_dict(data | {"v": 2})
    with pytest.raises(ValueError, match="no UTC offset"):
        record_from_dict(data | {"started_at": "2025-03-03T09:00:00"})
