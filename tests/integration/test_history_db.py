"""The history store against real databases: SQLite (a migrated file) and PostgreSQL (a fresh database).

Every store test runs on both; PostgreSQL ones carry the `postgres` mark and are skipped if
no server answers on 127.0.0.1:5432.
"""

from __future__ import annotations

import asyncio
import csv
import io
import secrets
import shutil
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, create_engine, func, select, text
from sqlalchemy.exc import OperationalError

from history import migrate
from history.base import Base
from history.export import calls_csv
from history.models import CallLeg, CallUniqueid, ContactPoint, Customer, EventJournal, Interaction
from history.protect import AesGcmProtector
from history.records import CallRecord, Channel, Disposition, LegRecord, PartyKind
from history.stats import call_stats
from history.store import HistoryStore
from history.writer import RecordWriter

PG_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432"
KEY = "history-test-key-3f9a1c0b7d"
TALLINN = ZoneInfo("Europe/Tallinn")
T0 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)  # a Monday, 11:00 in Tallinn
MARI_PHONE = "+37255512301"
JAAN_PHONE = "+37255598702"
COURIER_PHONE = "+37255500003"
MY_TABLES = {"customer", "contact_point", "support_case", "interaction", "call_leg", "call_uniqueid", "event_journal"}


# ---------------------------------------------------------------- databases


def _admin() -> Engine:
    return create_engine(f"{PG_SERVER}/postgres", isolation_level="AUTOCOMMIT")


def _create_pg_database(suffix: str = "") -> str:
    name = f"tugi_test_hist_{secrets.token_hex(4)}{suffix}"
    admin = _admin()
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except OperationalError as exc:
        pytest.skip(f"PostgreSQL is not reachable on 127.0.0.1:5432 ({exc.orig})")
    finally:
        admin.dispose()
    return name


def _drop_pg_database(name: str) -> None:
    admin = _admin()
    with admin.connect() as connection:
        connection.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true'))
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    name = _create_pg_database()
    url = f"{PG_SERVER}/{name}"
    try:
        migrate.upgrade(url)
        yield url
    finally:
        _drop_pg_database(name)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("history") / "template.sqlite3"
    migrate.upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        path = tmp_path / "history.sqlite3"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        engine = create_engine(f"sqlite:///{path}")
    else:
        engine = create_engine(request.getfixturevalue("pg_url"), pool_pre_ping=True)
        with engine.begin() as connection:
            connection.execute(text(f"TRUNCATE {', '.join(sorted(MY_TABLES))} RESTART IDENTITY CASCADE"))
    yield engine
    engine.dispose()


@pytest.fixture
def protector() -> AesGcmProtector:
    return AesGcmProtector(KEY)


@pytest.fixture
def store(engine: Engine, protector: AesGcmProtector) -> HistoryStore:
    return HistoryStore(engine, protector)


# ------------------------------------------------------------------ records


def leg(uniqueid: str, kind: PartyKind, ref: str | None, start: datetime, end: datetime,
        answered: datetime | None = None, **kw: object) -> LegRecord:
    return LegRecord(uniqueid=uniqueid, party_kind=kind, party_ref=ref, started_at=start, ended_at=end,
                     answered_at=answered, **kw)


def call(linkedid: str, *, at: datetime = T0, wait: float = 8.0, talk: float = 60.0,
         disposition: Disposition = Disposition.ANSWERED, staff: str | None = "mari",
         number: str | None = MARI_PHONE, channel: Channel = Channel.WEB,
         uniqueids: tuple[str, ...] | None = None, **kw: object) -> CallRecord:
    answered = at + timedelta(seconds=wait) if disposition is Disposition.ANSWERED else None
    ended = (answered or at + timedelta(seconds=wait)) + timedelta(seconds=talk if answered else 0)
    caller_leg = leg(linkedid, PartyKind.CUSTOMER, None, at, ended, at, is_caller=True, outcome="answered")
    legs = [caller_leg]
    if staff is not None:
        legs.append(leg(f"{linkedid}-s", PartyKind.STAFF, staff, at, ended, answered,
                        outcome="answered" if answered else "no_answer"))
    values: dict[str, object] = {
        "linkedid": linkedid,
        "channel": channel,
        "started_at": at,
        "ended_at": ended,
        "disposition": disposition,
        "legs": tuple(legs),
        "answered_at": answered,
        "answered_by": staff if answered else None,
        "caller_kind": PartyKind.CUSTOMER,
        "caller_number": number,
        "uniqueids": uniqueids if uniqueids is not None else tuple(lg.uniqueid for lg in legs),
    }
    values.update(kw)
    return CallRecord(**values)  # type: ignore[arg-type]


def count(engine: Engine, model: type) -> int:
    with engine.connect() as connection:
        return connection.execute(select(func.count()).select_from(model)).scalar_one()


# ------------------------------------------------------------------ schema


def test_migrations_create_exactly_the_models(engine: Engine) -> None:
    import history.masking_models  # noqa: F401  (the other tables the migrations create)

    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, Base.metadata)

    mine = [diff for diff in differences if _table_of(diff) in MY_TABLES]
    assert mine == []
    assert migrate.current(engine.url.render_as_string(hide_password=False)) == migrate.head()


def _table_of(diff: object) -> str:
    """The table an autogenerate difference is about (a list groups changes of one column)."""
    op = diff[0] if isinstance(diff, list) else diff
    kind, subject = op[0], op[1]
    if kind in {"add_table", "remove_table"}:
        return subject.name
    if kind in {"add_fk", "remove_fk"}:
        return subject.parent.name
    if kind in {"add_index", "remove_index", "add_constraint", "remove_constraint"}:
        return subject.table.name
    return op[2]  # add_column, remove_column, modify_*: (kind, schema, table, ...)


# ------------------------------------------------------------ save and read


def test_a_call_reads_back_field_by_field(store: HistoryStore) -> None:
    case_id = store.open_case("cust-1", order_ref="order-77", topic="late parcel", owner="mari")
    start = datetime(2025, 3, 3, 11, 0, 5, 250000, tzinfo=TALLINN)
    answered, ended = start + timedelta(seconds=12.5), start + timedelta(seconds=200)
    record = CallRecord(
        linkedid="1741000000.10",
        channel=Channel.WEB,
        started_at=start,
        ended_at=ended,
        disposition=Disposition.ANSWERED,
        legs=(
            leg("1741000000.10", PartyKind.WEB_VISITOR, "cust-1", start, ended, start, is_caller=True,
                outcome="answered"),
            leg("1741000000.11", PartyKind.STAFF, "jaan", start, start + timedelta(seconds=10), None,
                outcome="no_answer", hangup_cause=19),
            leg("1741000000.12", PartyKind.STAFF, "mari", start + timedelta(seconds=10), ended, answered,
                outcome="transferred", transferred_to="1741000000.13", hold_seconds=7.5),
        ),
        answered_at=answered,
        answered_by="mari",
        caller_kind=PartyKind.WEB_VISITOR,
        caller_ref="cust-1",
        caller_number=MARI_PHONE,
        callee_number="+3726000000",
        customer_id="cust-1",
        case_ref=case_id,
        order_ref="order-77",
        page_ref="https://shop.example/p/42?x=1",
        route=("person:jaan", "person:mari", "team"),
        targets_tried=("jaan", "mari"),
        queue_seconds=3.25,
        transfers=1,
        uniqueids=("1741000000.10", "1741000000.11", "1741000000.12", "1741000000.13"),
        source="reconciliation",
        extra={"widget": "v2", "lang": "et"},
    )
    interaction_id = store.save_call(record)
    got = store.get_call(interaction_id, include_numbers=True)
    assert got is not None
    expected = {
        "id": interaction_id,
        "kind": "call",
        "channel": "web",
        "natural_key": "call:1741000000.10",
        "started_at": "2025-03-03T09:00:05.250000+00:00",
        "answered_at": "2025-03-03T09:00:17.750000+00:00",
        "ended_at": "2025-03-03T09:03:25.250000+00:00",
        "disposition": "answered",
        "answered_by": "mari",
        "customer_id": "cust-1",
        "case_id": case_id,
        "order_ref": "order-77",
        "page_ref": "https://shop.example/p/42?x=1",
        "caller_kind": "web_visitor",
        "caller_ref": "cust-1",
        "caller_number": MARI_PHONE,
        "callee_number": "+3726000000",
        "route": ["person:jaan", "person:mari", "team"],
        "targets_tried": ["jaan", "mari"],
        "queue_seconds": 3.25,
        "talk_seconds": 187.5,
        "wait_seconds": 12.5,
        "transfers": 1,
        "source": "reconciliation",
        "extra": {"widget": "v2", "lang": "et"},
        "erased": False,
        "erased_at": None,
    }
    for name, value in expected.items():
        assert got[name] == value, name
    assert datetime.fromisoformat(got["created_at"]).tzinfo is not None
    assert got["uniqueids"] == sorted(record.uniqueids)
    legs = {item["uniqueid"]: item for item in got["legs"]}
    assert list(legs) == ["1741000000.10", "1741000000.11", "1741000000.12"]
    assert legs["1741000000.10"]["is_caller"] is True
    assert legs["1741000000.10"]["party_kind"] == "web_visitor"
    assert legs["1741000000.11"]["hangup_cause"] == 19
    assert legs["1741000000.11"]["answered_at"] is None
    assert legs["1741000000.11"]["ring_seconds"] == 10.0
    assert legs["1741000000.11"]["talk_seconds"] == 0.0
    assert legs["1741000000.12"]["party_ref"] == "mari"
    assert legs["1741000000.12"]["outcome"] == "transferred"
    assert legs["1741000000.12"]["transferred_to"] == "1741000000.13"
    assert legs["1741000000.12"]["ring_seconds"] == 2.5
    assert legs["1741000000.12"]["hold_seconds"] == 7.5
    assert legs["1741000000.12"]["talk_seconds"] == 180.0
    assert legs["1741000000.12"]["started_at"] == "2025-03-03T09:00:15.250000+00:00"


def test_answers_mask_numbers_unless_asked(store: HistoryStore) -> None:
    interaction_id = store.save_call(call("1.1"))
    masked = store.get_call(interaction_id)
    assert masked is not None
    assert masked["caller_number"] == "+372••••••01"
    assert MARI_PHONE not in repr(masked)
    assert MARI_PHONE not in repr(store.list_calls())
    assert store.list_calls(include_numbers=True)[0]["caller_number"] == MARI_PHONE


def test_numbers_are_never_stored_in_clear(store: HistoryStore, engine: Engine, protector: AesGcmProtector) -> None:
    store.add_customer("cust-1", "Mari", phones=[MARI_PHONE], emails=["Mari@Example.com"])
    store.save_call(call("1.1"))
    with engine.connect() as connection:
        encrypted, index = connection.execute(
            select(Interaction.caller_number_encrypted, Interaction.caller_number_index)
        ).one()
        contacts = connection.execute(select(ContactPoint.value_encrypted, ContactPoint.value_index)).all()
    assert b"55512301" not in encrypted
    assert index == protector.blind_index(MARI_PHONE)
    for value, _ in contacts:
        assert b"55512301" not in value and b"xample" not in value
    assert store.find_customer(email=" mari@example.COM ") == "cust-1"
    assert store.find_customer(phone="+372 5551 2301") == "cust-1"


def test_times_given_in_any_zone_read_back_as_aware_utc(store: HistoryStore, engine: Engine) -> None:
    local = datetime(2025, 7, 1, 12, 0, tzinfo=TALLINN)  # summer time: UTC+3
    store.save_call(call("1.1", at=local))
    with engine.connect() as connection:
        started = connection.execute(select(Interaction.started_at)).scalar_one()
    assert started == local
    assert started.utcoffset() == timedelta(0)
    assert store.list_calls()[0]["started_at"] == "2025-07-01T09:00:00+00:00"


def test_a_naive_time_is_refused(store: HistoryStore) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        store.save_call(call("1.1", at=datetime(2025, 3, 3, 9, 0)))


# ------------------------------------------------------------- idempotency


def test_the_same_record_twice_is_one_row(store: HistoryStore, engine: Engine) -> None:
    first = store.save_call(call("1.1"))
    second = store.save_call(call("1.1"))
    assert first == second
    assert count(engine, Interaction) == 1
    assert count(engine, CallLeg) == 2


def test_a_redelivery_updates_the_row_in_place(store: HistoryStore, engine: Engine) -> None:
    first = store.save_call(call("1.1", disposition=Disposition.NO_ANSWER))
    second = store.save_call(call("1.1", source="reconciliation"))
    assert first == second
    got = store.get_call(first)
    assert got is not None
    assert (got["disposition"], got["answered_by"], got["source"]) == ("answered", "mari", "reconciliation")
    assert count(engine, Interaction) == 1


def test_a_changed_linkedid_with_a_shared_uniqueid_is_the_same_call(store: HistoryStore, engine: Engine) -> None:
    first = store.save_call(call("1.1", uniqueids=("1.1", "1.1-s")))
    # after a transfer Asterisk gave the call another linkedid; one channel is shared
    moved = call("1.1-s", uniqueids=("1.1-s", "1.7"), transfers=1)
    assert store.save_call(moved) == first
    # an old delivery under the first linkedid still finds it, as does the newest uniqueid alone
    assert store.save_call(call("1.1")) == first
    assert store.save_call(call("1.7", uniqueids=("1.7",), staff=None)) == first
    assert count(engine, Interaction) == 1
    got = store.get_call(first)
    assert got is not None
    assert got["natural_key"] == "call:1.1"
    assert set(got["uniqueids"]) == {"1.1", "1.1-s", "1.1-s-s", "1.7"}


def test_a_shared_leg_uniqueid_alone_is_enough(store: HistoryStore, engine: Engine) -> None:
    first = store.save_call(call("1.1", uniqueids=()))
    again = call("9.9", uniqueids=(), legs=(leg("1.1-s", PartyKind.STAFF, "mari", T0, T0 + timedelta(seconds=60)),))
    assert store.save_call(again) == first
    assert count(engine, Interaction) == 1


def test_a_record_that_bridges_two_rows_merges_them(store: HistoryStore, engine: Engine) -> None:
    a = store.save_call(call("1.1", uniqueids=("1.1",), staff=None))
    b = store.save_call(call("2.1", uniqueids=("2.1",), staff=None, customer_id="cust-9"))
    assert a != b
    merged = store.save_call(call("1.1", uniqueids=("1.1", "2.1")))
    assert merged == min(a, b)
    assert count(engine, Interaction) == 1
    got = store.get_call(merged)
    assert got is not None
    assert got["customer_id"] == "cust-9"  # what the absorbed row knew is kept
    assert {"1.1", "2.1"} <= set(got["uniqueids"])
    assert store.get_call(max(a, b)) is None


def test_racing_saves_of_one_call_make_one_row(store: HistoryStore, engine: Engine) -> None:
    # two trackers (say, live AMI and a reconciliation pass) deliver the same call at once,
    # one under a linkedid that changed in a transfer
    records = [call("7.1", uniqueids=("7.1", "7.2")), call("7.2", uniqueids=("7.2", "7.3"), staff="jaan")] * 4
    barrier = threading.Barrier(len(records))
    results: list[int] = []
    errors: list[BaseException] = []

    def save(record: CallRecord) -> None:
        barrier.wait()
        try:
            results.append(store.save_call(record))
        except BaseException as exc:  # collected and asserted on below
            errors.append(exc)

    threads = [threading.Thread(target=save, args=(r,)) for r in records]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    assert len(set(results)) == 1
    assert count(engine, Interaction) == 1
    assert count(engine, CallUniqueid) == 5  # 7.1 7.2 7.3 and the staff legs 7.1-s 7.2-s


# ------------------------------------------------------------------- lists


def test_list_calls_filters(store: HistoryStore) -> None:
    store.save_call(call("1", at=T0, staff="mari"))
    store.save_call(call("2", at=T0 + timedelta(hours=1), disposition=Disposition.ABANDONED, staff="jaan"))
    store.save_call(call("3", at=T0 + timedelta(hours=2), staff="jaan", channel=Channel.PHONE))
    store.save_call(call("4", at=T0 + timedelta(hours=3), staff="mari", customer_id="cust-4", number=JAAN_PHONE))

    def ids(**filters: object) -> list[str]:
        return [c["natural_key"].removeprefix("call:") for c in store.list_calls(**filters)]  # type: ignore[arg-type]

    assert ids() == ["4", "3", "2", "1"]
    assert ids(since=T0 + timedelta(hours=1)) == ["4", "3", "2"]
    assert ids(until=T0 + timedelta(hours=1)) == ["1"]
    assert ids(since=T0 + timedelta(hours=1), until=T0 + timedelta(hours=3)) == ["3", "2"]
    assert ids(disposition=Disposition.ABANDONED) == ["2"]
    assert ids(disposition="answered") == ["4", "3", "1"]
    assert ids(staff="jaan") == ["3", "2"]  # call 2 was only rung on jaan's phone: a leg matches
    assert ids(staff="nobody") == []
    assert ids(customer_id="cust-4") == ["4"]
    assert ids(channel=Channel.PHONE) == ["3"]
    assert ids(limit=2) == ["4", "3"]
    assert ids(limit=2, offset=2) == ["2", "1"]
    assert ids(limit=None, staff="mari") == ["4", "1"]


def test_get_call_of_an_unknown_id_is_none(store: HistoryStore) -> None:
    assert store.get_call(12345) is None


# --------------------------------------------------------------- customers


def test_a_known_number_links_the_customer(store: HistoryStore, engine: Engine) -> None:
    store.add_customer("cust-1", "Mari", phones=[MARI_PHONE])
    interaction_id = store.save_call(call("1.1"))
    got = store.get_call(interaction_id)
    assert got is not None and got["customer_id"] == "cust-1"
    assert count(engine, Customer) == 1


def test_an_unknown_number_creates_nothing(store: HistoryStore, engine: Engine) -> None:
    interaction_id = store.save_call(call("1.1", number=JAAN_PHONE))
    got = store.get_call(interaction_id)
    assert got is not None and got["customer_id"] is None
    assert count(engine, Customer) == 0
    assert count(engine, ContactPoint) == 0


def test_a_named_customer_is_created_with_their_number(store: HistoryStore, engine: Engine) -> None:
    store.save_call(call("1.1", customer_id="cust-7", number=JAAN_PHONE))
    assert count(engine, Customer) == 1
    assert store.find_customer(phone=JAAN_PHONE) == "cust-7"
    # the next call from that number is linked without being told
    later = store.save_call(call("2.1", at=T0 + timedelta(days=1), number=JAAN_PHONE))
    got = store.get_call(later)
    assert got is not None and got["customer_id"] == "cust-7"


def test_a_courier_number_is_never_linked_to_the_customer(store: HistoryStore) -> None:
    masked = call("1.1", channel=Channel.MASKED, caller_kind=PartyKind.COURIER, caller_ref="courier-3",
                  number=COURIER_PHONE, callee_number=MARI_PHONE, customer_id="cust-1")
    store.save_call(masked)
    assert store.find_customer(phone=COURIER_PHONE) is None
    assert store.find_customer(phone=MARI_PHONE) == "cust-1"


def test_a_number_of_another_customer_is_not_taken_over(store: HistoryStore) -> None:
    store.add_customer("cust-1", "Mari", phones=[MARI_PHONE])
    store.save_call(call("1.1", customer_id="cust-2"))
    assert store.find_customer(phone=MARI_PHONE) == "cust-1"
    with pytest.raises(ValueError, match="another customer"):
        store.add_customer("cust-2", phones=[MARI_PHONE])


def test_customer_timeline_newest_first_with_case_and_order(store: HistoryStore) -> None:
    store.add_customer("cust-1", "Mari", phones=[MARI_PHONE])
    case_id = store.open_case("cust-1", order_ref="order-5", topic="refund", owner="jaan")
    store.save_call(call("1", at=T0))
    store.save_call(call("2", at=T0 + timedelta(hours=2), case_ref=case_id, staff="jaan"))
    store.save_call(call("3", at=T0 + timedelta(hours=1), order_ref="order-9"))
    store.save_call(call("4", at=T0 + timedelta(hours=3), number=JAAN_PHONE))  # somebody else
    timeline = store.customer_timeline("cust-1")
    assert [item["natural_key"] for item in timeline] == ["call:2", "call:3", "call:1"]
    assert timeline[0]["case"] == store.get_case(case_id)
    assert timeline[0]["case"]["topic"] == "refund"
    assert timeline[0]["order_ref"] == "order-5"  # taken from the case
    assert timeline[1]["order_ref"] == "order-9" and timeline[1]["case"] is None
    assert "caller_number" in timeline[0] and MARI_PHONE not in repr(timeline)


def test_an_unknown_case_ref_is_kept(store: HistoryStore) -> None:
    interaction_id = store.save_call(call("1", case_ref="crm-123"))
    got = store.get_call(interaction_id)
    assert got is not None
    assert got["case_id"] is None and got["extra"]["case_ref"] == "crm-123"


def test_cases_open_and_close(store: HistoryStore) -> None:
    case_id = store.open_case("cust-1", order_ref="o-1", topic="size", owner="mari", case_id="case-1")
    assert case_id == "case-1"
    with pytest.raises(ValueError, match="already exists"):
        store.open_case("cust-1", case_id="case-1")
    case = store.get_case(case_id)
    assert case is not None and case["status"] == "open" and case["closed_at"] is None
    assert store.close_case(case_id, closed_at=T0) is True
    assert store.close_case(case_id) is False
    assert store.close_case("nope") is False
    closed = store.get_case(case_id)
    assert closed is not None and closed["status"] == "closed" and closed["closed_at"] == T0.isoformat()


# ------------------------------------------------------------ last handler


def test_last_handler_is_who_answered_the_latest_call_about_an_open_case(store: HistoryStore) -> None:
    store.add_customer("cust-1", "Mari", phones=[MARI_PHONE])
    case_id = store.open_case("cust-1", order_ref="order-5")
    assert store.last_handler("cust-1") is None  # no call about it yet
    store.save_call(call("1", at=T0, case_ref=case_id, staff="jaan"))
    store.save_call(call("2", at=T0 + timedelta(hours=1), case_ref=case_id, staff="mari"))
    store.save_call(call("3", at=T0 + timedelta(hours=2), staff="kati"))  # not about the case
    store.save_call(call("4", at=T0 + timedelta(hours=3), case_ref=case_id, staff="outsourced"))
    store.save_call(call("5", at=T0 + timedelta(hours=4), case_ref=case_id,
                         disposition=Disposition.ABANDONED, staff="peeter"))
    assert store.last_handler("cust-1") == "mari"
    assert store.last_handler(caller_number=MARI_PHONE) == "mari"
    assert store.last_handler(caller_number="+372 5551 2301") == "mari"
    # a call that named only the order of the open case counts too
    store.save_call(call("6", at=T0 + timedelta(hours=5), order_ref="order-5", staff="kati"))
    assert store.last_handler("cust-1") == "kati"
    store.close_case(case_id)
    assert store.last_handler("cust-1") is None


def test_last_handler_of_an_unlinked_number_uses_its_own_calls(store: HistoryStore) -> None:
    case_id = store.open_case(None, order_ref="order-8")
    store.save_call(call("1", number=JAAN_PHONE, case_ref=case_id, staff="mari"))
    assert store.last_handler(caller_number=JAAN_PHONE) == "mari"
    assert store.last_handler(caller_number=COURIER_PHONE) is None
    with pytest.raises(ValueError):
        store.last_handler()


# ---------------------------------------------------------------- erasure


def test_erase_customer(store: HistoryStore, engine: Engine) -> None:
    store.add_customer("cust-1", "Mari Maasikas", phones=[MARI_PHONE], emails=["mari@example.com"])
    before = call("0", at=T0 - timedelta(days=3), staff="jaan")
    store.save_call(before)  # same number, not linked: made before anybody knew it was her
    with engine.begin() as connection:
        connection.execute(Interaction.__table__.update().values(customer_id=None))
    linked = store.save_call(call("1", extra={"note": "asked about her son's parcel"}))
    store.save_call(call("2", number=JAAN_PHONE))  # somebody else
    store.append_events("1", [{"Event": "Newchannel", "Uniqueid": "1", "CallerIDNum": MARI_PHONE}])
    store.append_events("2", [{"Event": "Newchannel", "Uniqueid": "2", "CallerIDNum": JAAN_PHONE}])

    assert store.erase_customer("cust-1") is True
    assert store.erase_customer("nobody") is False

    customer = store.get_customer("cust-1", include_contacts=True)
    assert customer is not None
    assert customer["display_name"] == "erased" and customer["erased"] and customer["contacts"] == []
    calls = {c["natural_key"]: c for c in store.list_calls(include_numbers=True)}
    for key in ("call:0", "call:1"):
        assert calls[key]["caller_number"] is None
        assert calls[key]["erased"] is True
        assert calls[key]["extra"] == {}
        assert calls[key]["answered_by"] in {"mari", "jaan"}  # statistics survive
    assert calls["call:1"]["customer_id"] == "cust-1"
    assert calls["call:2"]["caller_number"] == JAAN_PHONE and calls["call:2"]["erased"] is False
    assert store.journal("1") == []
    assert len(store.journal("2")) == 1
    assert store.find_customer(phone=MARI_PHONE) is None
    with engine.connect() as connection:
        blobs = connection.execute(
            select(Interaction.caller_number_index).where(Interaction.caller_number_index.is_not(None))
        ).scalars().all()
    assert len(blobs) == 1
    # a late re-delivery (the writer's spool) does not bring the number back
    store.save_call(call("1"))
    got = store.get_call(linked, include_numbers=True)
    assert got is not None and got["caller_number"] is None and got["erased"] is True
    with pytest.raises(ValueError, match="erased"):
        store.add_customer("cust-1", phones=[MARI_PHONE])


# ----------------------------------------------------------------- journal


def test_event_journal_keeps_raw_events_in_order_until_purged(store: HistoryStore, engine: Engine) -> None:
    events = [
        {"Event": "Newchannel", "Uniqueid": "5.1", "Linkedid": "5.1", "CallerIDNum": "+37255512301"},
        {"Event": "DialBegin", "Uniqueid": "5.1", "DestUniqueid": "5.2"},
    ]
    assert store.append_events("5.1", events) == 2
    assert store.append_events("5.1", [{"Event": "Hangup", "Uniqueid": "5.2", "Cause": "16"}]) == 1
    assert store.append_events("5.1", []) == 0
    journal = store.journal("5.1")
    assert [(e["seq"], e["event"], e["uniqueid"]) for e in journal] == [
        (1, "Newchannel", "5.1"), (2, "DialBegin", "5.1"), (3, "Hangup", "5.2"),
    ]
    assert journal[0]["payload"] == events[0]  # exactly as it came, number and all
    assert store.purge_journal(datetime.now(UTC) - timedelta(hours=1)) == 0
    with engine.begin() as connection:
        connection.execute(EventJournal.__table__.update().where(EventJournal.seq == 1)
                           .values(received_at=datetime.now(UTC) - timedelta(days=40)))
    assert store.purge_journal(timedelta(days=30)) == 1
    assert [e["seq"] for e in store.journal("5.1")] == [2, 3]


def test_the_events_of_several_calls_are_journalled_together(store: HistoryStore) -> None:
    store.append_events("6.1", [{"Event": "CEL", "EventName": "CHAN_START", "Uniqueid": "6.1"}])
    written = store.append_events_many([
        ("6.1", [{"Event": "CEL", "EventName": "HANGUP", "Uniqueid": "6.1"}]),
        ("7.1", [{"Event": "CEL", "EventName": "CHAN_START", "Uniqueid": "7.1"},
                 {"Event": "CEL", "EventName": "HANGUP", "Uniqueid": "7.2"}]),
        ("8.1", []),
    ])
    assert written == 3
    assert [(e["seq"], e["payload"]["EventName"]) for e in store.journal("6.1")] == [(1, "CHAN_START"), (2, "HANGUP")]
    assert [(e["seq"], e["uniqueid"]) for e in store.journal("7.1")] == [(1, "7.1"), (2, "7.2")]
    assert store.journal("8.1") == []


# ---------------------------------------------------------------- exports


def test_calls_as_csv(store: HistoryStore) -> None:
    store.save_call(call("1", at=T0, route=("person:mari", "team"), page_ref="=HYPERLINK(\"http://x\")"))
    store.save_call(call("2", at=T0 + timedelta(hours=1), disposition=Disposition.ABANDONED, staff="jaan"))
    text_masked = calls_csv(store)
    rows = list(csv.DictReader(io.StringIO(text_masked)))
    assert [r["id"] for r in rows] == ["2", "1"]
    assert rows[1]["caller_number"] == "+372••••••01"
    assert rows[1]["route"] == "person:mari > team"
    assert rows[1]["page_ref"] == "'=HYPERLINK(\"http://x\")"
    assert rows[1]["started_at"] == "2025-03-03T09:00:00+00:00"
    assert rows[0]["disposition"] == "abandoned" and rows[0]["answered_by"] == ""
    assert MARI_PHONE not in text_masked
    clear = list(csv.DictReader(io.StringIO(calls_csv(store, include_numbers=True, disposition="answered"))))
    assert [r["caller_number"] for r in clear] == [MARI_PHONE]
    assert calls_csv(store, staff="nobody").splitlines() == [text_masked.splitlines()[0]]


# ------------------------------------------------------------------- stats


def test_call_statistics(store: HistoryStore, engine: Engine) -> None:
    day = datetime(2025, 3, 3, tzinfo=TALLINN)
    at = [day.replace(hour=h) for h in (9, 9, 10, 10, 10, 16)]
    store.save_call(call("a", at=at[0], wait=5, talk=100))
    store.save_call(call("b", at=at[1], wait=15, talk=200))
    store.save_call(call("c", at=at[2], wait=40, talk=300))  # answered, but late
    store.save_call(call("d", at=at[3], wait=30, disposition=Disposition.ABANDONED, staff=None))
    store.save_call(call("e", at=at[4], wait=20, disposition=Disposition.NO_ANSWER, channel=Channel.PHONE))
    store.save_call(call("f", at=at[5], wait=10, talk=400, channel=Channel.PHONE))
    store.save_call(call("g", at=at[5], disposition=Disposition.REFUSED))  # never offered
    store.save_call(call("h", at=at[5], channel=Channel.INTERNAL))  # staff to staff
    store.save_call(call("i", at=day - timedelta(hours=1)))  # before the range

    stats = call_stats(engine, day, day + timedelta(days=1), timezone="Europe/Tallinn", answered_within=20)
    assert stats["offered"] == 6
    assert stats["answered"] == 4
    assert stats["answered_in_time"] == 3
    assert stats["abandoned"] == 1
    assert stats["service_level"] == pytest.approx(0.75)
    assert stats["abandonment_rate"] == pytest.approx(1 / 6)
    assert stats["avg_wait_seconds"] == pytest.approx((5 + 15 + 40 + 10) / 4)
    assert stats["avg_talk_seconds"] == pytest.approx((100 + 200 + 300 + 400) / 4)
    busy = {row["hour"]: row for row in stats["by_hour"] if row["offered"]}
    assert {h: (r["offered"], r["answered"], r["abandoned"]) for h, r in busy.items()} == {
        9: (2, 2, 0), 10: (3, 1, 1), 16: (1, 1, 0),
    }
    everything = call_stats(engine, day, day + timedelta(days=1), channels=None)
    assert everything["offered"] == 7  # the internal call too, still not the refused one
    empty = call_stats(engine, day + timedelta(days=5), day + timedelta(days=6))
    assert (empty["offered"], empty["service_level"], empty["abandonment_rate"]) == (0, None, None)
    assert len(empty["by_hour"]) == 24


def test_hours_follow_the_shops_clock_across_a_dst_change(store: HistoryStore, engine: Engine) -> None:
    # 30 March 2025: Tallinn moves from UTC+2 to UTC+3 at 03:00 local
    store.save_call(call("winter", at=datetime(2025, 3, 29, 12, 0, tzinfo=TALLINN)))
    store.save_call(call("summer", at=datetime(2025, 3, 31, 12, 0, tzinfo=TALLINN)))
    store.save_call(call("quarter", at=datetime(2025, 3, 30, 12, 45, tzinfo=ZoneInfo("Asia/Kathmandu"))))
    stats = call_stats(engine, datetime(2025, 3, 28, tzinfo=UTC), datetime(2025, 4, 2, tzinfo=UTC))
    assert stats["by_hour"][12]["offered"] == 2
    nepal = call_stats(engine, datetime(2025, 3, 28, tzinfo=UTC), datetime(2025, 4, 2, tzinfo=UTC),
                       timezone="Asia/Kathmandu")
    assert nepal["by_hour"][12]["offered"] == 1  # +05:45: quarter hours keep it in its hour


# ------------------------------------------------------------------ writer


def _block(name: str) -> None:
    admin = _admin()
    with admin.connect() as connection:
        connection.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false'))
        connection.execute(
            text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                 " WHERE datname = :name AND pid <> pg_backend_pid()"),
            {"name": name},
        )
    admin.dispose()


def _unblock(name: str) -> None:
    admin = _admin()
    with admin.connect() as connection:
        connection.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true'))
    admin.dispose()


@pytest.fixture
def outage_db() -> Iterator[str]:
    """A database of its own, so taking it away does not disturb the other tests."""
    name = _create_pg_database("_w")
    try:
        migrate.upgrade(f"{PG_SERVER}/{name}")
        yield name
    finally:
        _drop_pg_database(name)


@pytest.mark.postgres
async def test_writer_keeps_every_call_through_a_database_outage(outage_db: str, tmp_path: Path) -> None:
    engine = create_engine(f"{PG_SERVER}/{outage_db}", pool_pre_ping=True)
    store = HistoryStore(engine, AesGcmProtector(KEY))
    spool = tmp_path / "spool"
    writer = RecordWriter(store, spool, retry_seconds=(0.05, 0.2))
    await writer.start()
    try:
        await writer.submit(call("before"))
        await writer.flush(timeout=20)
        assert count(engine, Interaction) == 1

        await asyncio.to_thread(_block, outage_db)
        during = [call(f"down-{n}", at=T0 + timedelta(minutes=n + 1)) for n in range(5)]
        for record in during:
            await writer.submit(record)
        await writer.submit(during[0])  # delivered twice, as a restarted tracker would
        await writer.submit(call("before", source="reconciliation"))
        await asyncio.sleep(0.6)  # several attempts fail meanwhile
        assert writer.pending == 7
        assert len((spool / "calls.jsonl").read_text().splitlines()) >= 7

        await asyncio.to_thread(_unblock, outage_db)
        await writer.flush(timeout=60)
        assert writer.pending == 0
    finally:
        await writer.stop()
        await asyncio.to_thread(_unblock, outage_db)
    assert count(engine, Interaction) == 6
    keys = [c["natural_key"] for c in store.list_calls(limit=None)]
    assert sorted(keys) == sorted({"call:before", *(f"call:down-{n}" for n in range(5))})
    assert store.list_calls(limit=None, since=T0, until=T0 + timedelta(seconds=1))[0]["source"] == "reconciliation"
    assert (spool / "calls.jsonl").read_text() == ""
    engine.dispose()


@pytest.mark.postgres
async def test_a_restarted_writer_replays_what_the_outage_left(outage_db: str, tmp_path: Path) -> None:
    engine = create_engine(f"{PG_SERVER}/{outage_db}", pool_pre_ping=True)
    store = HistoryStore(engine, AesGcmProtector(KEY))
    spool = tmp_path / "spool"
    await asyncio.to_thread(_block, outage_db)
    try:
        writer = RecordWriter(store, spool, retry_seconds=(0.05, 0.1))
        await writer.start()
        for n in range(3):
            await writer.submit(call(f"r-{n}"))
        await asyncio.sleep(0.3)
        await writer.stop()  # Tugi is stopped while the database is still away
    finally:
        await asyncio.to_thread(_unblock, outage_db)

    restarted = RecordWriter(store, spool, retry_seconds=(0.05, 0.1))
    async with restarted:
        assert restarted.pending == 3
        await restarted.flush(timeout=30)
    assert sorted(c["natural_key"] for c in store.list_calls()) == ["call:r-0", "call:r-1", "call:r-2"]
    engine.dispose()


def test_writer_stores_into_this_database(store: HistoryStore, engine: Engine, tmp_path: Path) -> None:
    async def scenario() -> None:
        async with RecordWriter(store, tmp_path / "spool") as writer:
            for n in range(10):
                await writer.submit(call(f"w-{n}"))
            await writer.submit(call("w-3"))
            await writer.flush(timeout=30)

    asyncio.run(scenario())
    assert count(engine, Interaction) == 10



def test_latest_call_start_is_the_newest_stored_call(store: HistoryStore) -> None:
    assert store.latest_call_start() is None
    store.save_call(call("1.1", at=T0))
    store.save_call(call("2.1", at=T0 + timedelta(hours=3)))
    store.save_call(call("3.1", at=T0 + timedelta(hours=1)))
    assert store.latest_call_start() == T0 + timedelta(hours=3)
