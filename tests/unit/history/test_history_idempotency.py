"""Whatever order and however often the same calls are saved, each call is one row (SQLite)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, create_engine, delete, select

from history import migrate
from history.models import CallLeg, CallUniqueid, Interaction
from history.protect import AesGcmProtector
from history.records import CallRecord, Channel, Disposition, LegRecord, PartyKind
from history.store import HistoryStore

T0 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
VERSIONS = 4


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    path: Path = tmp_path_factory.mktemp("idempotency") / "history.sqlite3"
    migrate.upgrade(f"sqlite:///{path}")
    engine = create_engine(f"sqlite:///{path}")
    yield engine
    engine.dispose()


def version(call: int, number: int) -> CallRecord:
    """One delivery of call `call`, as the tracker saw it at some moment.

    0: first linkedid; 1: after a transfer changed the linkedid (shares one uniqueid with 0);
    2: a later view (shares one with 1, and names a new leg); 3: seen only through that leg.
    """
    u = [f"{call}.{k}" for k in range(4)]
    linkedid, uniqueids, legs = {
        0: (u[0], (u[0], u[1]), (u[0], u[1])),
        1: (u[1], (u[1], u[2]), (u[1], u[2])),
        2: (u[2], (u[2],), (u[2], u[3])),
        3: (u[3], (u[3],), (u[3],)),
    }[number]
    start = T0 + timedelta(minutes=call)
    return CallRecord(
        linkedid=linkedid,
        channel=Channel.PHONE,
        started_at=start,
        ended_at=start + timedelta(seconds=60),
        disposition=Disposition.ANSWERED,
        answered_at=start + timedelta(seconds=5),
        answered_by=f"staff-{number}",
        caller_number=f"+3725550000{call}",
        uniqueids=uniqueids,
        legs=tuple(
            LegRecord(uniqueid=uid, party_kind=PartyKind.STAFF, party_ref=f"staff-{number}",
                      started_at=start, ended_at=start + timedelta(seconds=60))
            for uid in legs
        ),
    )


def keys(record: CallRecord) -> set[str]:
    return {record.linkedid, *record.uniqueids, *(leg.uniqueid for leg in record.legs)}


def components(records: list[CallRecord]) -> list[set[str]]:
    """Groups of deliveries that share a key: what the store can know to be one call."""
    groups: list[set[str]] = []
    for record in records:
        joined = keys(record)
        for group in [g for g in groups if g & joined]:
            groups.remove(group)
            joined |= group
        groups.append(joined)
    return groups


deliveries = st.lists(st.tuples(st.integers(0, 2), st.integers(0, VERSIONS - 1)), min_size=1, max_size=14)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(plan=deliveries)
def test_any_order_of_deliveries_gives_one_row_per_call(engine: Engine, plan: list[tuple[int, int]]) -> None:
    with engine.begin() as connection:
        for model in (CallLeg, CallUniqueid, Interaction):
            connection.execute(delete(model))
    store = HistoryStore(engine, AesGcmProtector("idempotency-test-key-0042"))
    saved = [version(call, number) for call, number in plan]
    for record in saved:
        store.save_call(record)

    groups = components(saved)
    with engine.connect() as connection:
        owner = dict(connection.execute(select(CallUniqueid.uniqueid, CallUniqueid.interaction_id)).all())
        rows = dict(connection.execute(select(Interaction.id, Interaction.answered_by)).all())
        leg_owner = dict(connection.execute(select(CallLeg.uniqueid, CallLeg.interaction_id)).all())
    assert len(rows) == len(groups)
    for group in groups:
        ids = {owner[key] for key in group}
        assert len(ids) == 1, f"one call stored as {ids}"
        (row,) = ids
        last = [r for r in saved if keys(r) & group][-1]
        assert rows[row] == last.answered_by  # the newest delivery wins, in place
        assert {uid for uid, iid in leg_owner.items() if iid == row} == {leg.uniqueid for leg in last.legs}
