"""Masking through SqlSessionStore on SQLite (a file) and PostgreSQL (a fresh database per run).

Besides the service's core behaviour this checks what only a real database can show: aware
times survive the round trip, the lookups use the indexes, the 0002 migration builds the same
table as the models, and after an erasure no column holds the customer's number in any form.
"""

from __future__ import annotations

import base64
import importlib.util
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, create_engine, event, inspect, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from config.schema import Asterisk, Masking, Settings, Shop
from history.base import Base
from history.masking_models import masking_session
from history.masking_store import SqlSessionStore
from masking.crypto import NumberCipher
from masking.errors import PoolExhausted, SessionNotFound
from masking.model import Connect, NeedPin, Refusal, Refuse
from masking.service import Housekeeping, MaskingService
from masking.store import StoredSession

P1, P2, P3 = "+3726001001", "+3726001002", "+3726001003"
CUSTOMER, CUSTOMER2, CUSTOMER3 = "+37251000001", "+37251000002", "+37251000003"
COURIER, COURIER2 = "+37252000001", "+37252000002"
KEY = "integration-masking-key-0123456789"
PG_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
MIGRATION = Path(__file__).resolve().parents[2] / "history" / "migrations" / "versions" / "0002_masking.py"


# -- databases ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    """A database of its own for this run, dropped at the end."""
    try:
        admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text("SELECT 1"))
    except OperationalError as error:
        pytest.skip(f"PostgreSQL on 127.0.0.1:5432 is not reachable: {error}")
    name = f"tugi_test_masking_{secrets.token_hex(4)}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _url_for(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if kind == "sqlite":
        return f"sqlite:///{tmp_path / 'masking.sqlite3'}"
    return request.getfixturevalue("pg_url")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    engine = create_engine(_url_for(request.param, request, tmp_path))
    Base.metadata.create_all(engine, tables=[masking_session])
    try:
        yield engine
    finally:
        Base.metadata.drop_all(engine, tables=[masking_session])
        engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    engine = create_engine(_url_for(request.param, request, tmp_path))
    try:
        yield engine
    finally:
        Base.metadata.drop_all(engine, tables=[masking_session])
        engine.dispose()


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 3, 2, 10, 0, tzinfo=ZoneInfo("Europe/Tallinn"))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)


class Harness:
    def __init__(self, engine: Engine, **masking: Any) -> None:
        masking.setdefault("pool", (P1, P2, P3))
        masking.setdefault("single_number_mode", False)
        masking.setdefault("encryption_key", KEY)
        self.engine = engine
        self.clock = Clock()
        self.cipher = NumberCipher(KEY)
        self.store = SqlSessionStore(engine)
        self.refusals: list[Refusal] = []
        self.service = MaskingService(
            self.store,
            Settings(shop=Shop(name="Test"), asterisk=Asterisk(ami_secret="x"), masking=Masking(**masking)),
            self.clock,
            self.cipher,
            on_refusal=self.refusals.append,
        )

    def open(self, customer: str = CUSTOMER, courier: str = COURIER, order: str = "order-1", **kw: Any):
        return self.service.open_session(
            order, "cust-" + customer[-2:], customer, "courier-" + courier[-2:], courier, **kw
        )


# -- core behaviour -----------------------------------------------------------------------------


def test_open_get_close(engine: Engine) -> None:
    h = Harness(engine)
    session = h.open(case_ref="case-1")
    got = h.service.get(session.id)
    assert got == session
    assert got.created_at == h.clock.now and got.created_at.tzinfo is not None
    assert got.expires_at == h.clock.now + timedelta(hours=72)
    h.clock.advance(minutes=5)
    closed = h.service.close(session.id)
    assert h.service.sessions_for_order("order-1") == [closed]
    with pytest.raises(SessionNotFound):
        h.service.get(session.id)
    with pytest.raises(SessionNotFound):
        h.service.close(session.id)


def test_every_field_survives_the_round_trip(engine: Engine) -> None:
    store = SqlSessionStore(engine)
    at = datetime(2026, 7, 1, 23, 30, 15, 123456, tzinfo=ZoneInfo("Europe/Tallinn"))
    stored = StoredSession(
        id="s1", order_ref="o:1/2", case_ref="case.9", customer_ref="c-1",
        customer_sealed=b"\x00\x01sealed\xff", customer_index="a" * 64, courier_ref="k_1",
        courier_sealed=b"\x02courier", courier_index="b" * 64, proxy_number=P1, pin="0042",
        created_at=at, expires_at=at + timedelta(hours=1), closed_at=None, erased=False,
    )  # fmt: skip
    store.add(stored)
    back = store.get("s1")
    assert back == stored
    assert back is not None and back.created_at.utcoffset() == timedelta(0)
    store.update(StoredSession(**{**stored.__dict__, "closed_at": at.astimezone(UTC), "erased": True}))
    again = store.get("s1")
    assert again is not None and again.closed_at == at and again.erased is True
    with pytest.raises(KeyError):
        store.update(StoredSession(**{**stored.__dict__, "id": "nope"}))


def test_shared_proxy_resolves_per_caller(engine: Engine) -> None:
    h = Harness(engine, pool=(P1,))
    h.open(customer=CUSTOMER, courier=COURIER)
    h.open(customer=CUSTOMER2, courier=COURIER2, order="order-2")
    expected = {COURIER: CUSTOMER, CUSTOMER: COURIER, COURIER2: CUSTOMER2, CUSTOMER2: COURIER2}
    for caller, callee in expected.items():
        result = h.service.resolve(caller, P1)
        assert isinstance(result, Connect) and result.dial_number == callee and result.caller_id == P1
    with pytest.raises(PoolExhausted):
        h.open(customer=CUSTOMER3, courier=COURIER)


def test_single_number_mode_with_pins(engine: Engine) -> None:
    h = Harness(engine, pool=(P1,), single_number_mode=True)
    first = h.open(customer=CUSTOMER)
    second = h.open(customer=CUSTOMER2, order="order-2")
    assert first.pin and second.pin and first.pin != second.pin
    assert h.service.resolve(COURIER, P1) == NeedPin(P1)
    result = h.service.resolve(COURIER, P1, second.pin)
    assert isinstance(result, Connect) and result.dial_number == CUSTOMER2
    wrong = next(p for p in ("0000", "1111", "2222") if p not in (first.pin, second.pin))
    assert h.service.resolve(COURIER, P1, wrong) == Refuse()


def test_refusals_and_housekeeping(engine: Engine) -> None:
    h = Harness(engine, retention_days=1)
    short = h.open(ttl=timedelta(hours=1))
    closed = h.open(customer=CUSTOMER2, order="order-2")
    h.service.close(closed.id)
    assert h.service.resolve("+37251999999", short.proxy_number) == Refuse()
    assert h.service.resolve(CUSTOMER2, closed.proxy_number) == Refuse()
    h.clock.advance(hours=2)
    assert h.service.resolve(CUSTOMER, short.proxy_number) == Refuse()
    assert [r.code for r in h.refusals] == ["stranger", "closed", "expired"]

    assert h.service.expire_and_purge() == Housekeeping(expired=1, purged=0)
    assert h.service.sessions_for_order("order-1")[0].closed_at == short.expires_at
    h.clock.advance(days=1)
    assert h.service.expire_and_purge() == Housekeeping(expired=0, purged=2)
    for order in ("order-1", "order-2"):
        [session] = h.service.sessions_for_order(order)
        assert session.erased and session.customer.number is None and session.courier.number is None


# -- erasure leaves nothing behind --------------------------------------------------------------


def _forms(number: str) -> list[str]:
    national = number.removeprefix("+372")
    return [number, number[1:], national, f"+372 {national[:4]} {national[4:]}", "00" + number[1:]]


def _text_and_binary_values(engine: Engine) -> Iterator[tuple[str, str, str | bytes]]:
    """Every non-null text or binary value in every table of the database."""
    inspector = inspect(engine)
    with engine.connect() as conn:
        for table in inspector.get_table_names():
            names = [c["name"] for c in inspector.get_columns(table)]
            for row in conn.execute(text(f'SELECT * FROM "{table}"')).mappings():
                for name in names:
                    value = row[name]
                    if isinstance(value, memoryview):
                        value = bytes(value)
                    if isinstance(value, str | bytes):
                        yield table, name, value


def _traces(engine: Engine, needles_text: list[str], needles_bytes: list[bytes]) -> list[tuple[str, str]]:
    found = []
    for table, column, value in _text_and_binary_values(engine):
        if isinstance(value, str):
            hit = any(n in value for n in needles_text)
        else:
            hit = any(n in value for n in needles_bytes)
        if hit:
            found.append((table, column))
    return found


def test_erase_customer_leaves_no_trace_of_the_number(engine: Engine) -> None:
    h = Harness(engine)
    h.open(customer=CUSTOMER, order="order-1")
    old = h.open(customer=CUSTOMER, courier=COURIER2, order="order-0")
    h.service.close(old.id)
    other = h.open(customer=CUSTOMER2, order="order-2")

    with engine.connect() as conn:
        sealed = [
            bytes(v)
            for v in conn.execute(
                select(masking_session.c.customer_number).where(masking_session.c.customer_ref == "cust-01")
            ).scalars()
        ]
    index = h.cipher.blind_index(CUSTOMER)
    clear = _forms(CUSTOMER)
    needles_text = [*clear, index, *(s.hex() for s in sealed), *(base64.b64encode(s).decode() for s in sealed)]
    needles_bytes = [*(f.encode() for f in clear), index.encode(), bytes.fromhex(index), *sealed]
    assert len(sealed) == 2
    # the scan must be able to see the encodings we store, or its silence proves nothing
    assert ("masking_session", "customer_index") in _traces(engine, needles_text, needles_bytes)
    assert ("masking_session", "customer_number") in _traces(engine, needles_text, needles_bytes)
    # ...and the clear number was never stored at all
    assert _traces(engine, clear, [f.encode() for f in clear]) == []

    assert h.service.erase_customer("cust-01") == 2

    assert _traces(engine, needles_text, needles_bytes) == []
    assert isinstance(h.service.resolve(COURIER, other.proxy_number), Connect)
    assert h.service.sessions_for_order("order-2")[0].customer.number == CUSTOMER2


def test_sqlite_file_holds_no_clear_number_and_secure_delete_wipes_erased_data(tmp_path: Path) -> None:
    """The database file itself, free pages included: what a stolen backup would show."""
    path = tmp_path / "masking.sqlite3"
    engine = create_engine(f"sqlite:///{path}")

    @event.listens_for(engine, "connect")
    def _secure_delete(dbapi_connection: Any, _record: Any) -> None:
        # overwrite deleted content instead of leaving it in free pages; the composition root
        # should do the same for a shop's SQLite database
        dbapi_connection.execute("PRAGMA secure_delete = ON")

    Base.metadata.create_all(engine, tables=[masking_session])
    try:
        h = Harness(engine)
        h.open()
        h.open(customer=CUSTOMER2, order="order-2")
        engine.dispose()
        raw = path.read_bytes()
        for number in (CUSTOMER, CUSTOMER2, COURIER):
            for form in _forms(number):
                assert form.encode() not in raw
        index = h.cipher.blind_index(CUSTOMER).encode()
        assert index in raw

        h.service.erase_customer("cust-01")
        engine.dispose()
        assert index not in path.read_bytes()
    finally:
        engine.dispose()


# -- indexes ------------------------------------------------------------------------------------


def _fill(engine: Engine, rows: int, now: datetime) -> None:
    """Many sessions of many people on a few proxies: most live, some closed, a few purged."""
    proxies = [f"+37260010{n:02d}" for n in range(20)]
    batch = []
    for n in range(rows):
        closed = now - timedelta(days=n % 40) if n % 5 == 0 else None
        erased = closed is not None and n % 40 > 30
        batch.append(
            {
                "id": f"fill-{n}",
                "order_ref": f"order-{n}",
                "case_ref": None,
                "customer_ref": f"cust-{n}",
                "customer_number": None if erased else secrets.token_bytes(40),
                "customer_index": None if erased else secrets.token_hex(32),
                "courier_ref": f"courier-{n % 500}",
                "courier_number": None if erased else secrets.token_bytes(40),
                "courier_index": None if erased else f"{n % 500:064x}",
                "proxy_number": proxies[n % len(proxies)],
                "pin": f"{n % 10000:04d}" if n % 20 == 0 else None,
                "created_at": now - timedelta(hours=n % 100),
                "expires_at": now + timedelta(hours=1 + n % 70),
                "closed_at": closed,
                "erased": erased,
            }
        )
    with engine.begin() as conn:
        conn.execute(masking_session.insert(), batch)
        conn.execute(text("ANALYZE"))


def _plans(engine: Engine, calls: list[Any]) -> list[tuple[str, str]]:
    captured: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        captured.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", capture)
    try:
        for call in calls:
            call()
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    prefix = "EXPLAIN QUERY PLAN " if engine.dialect.name == "sqlite" else "EXPLAIN "
    plans = []
    with engine.connect() as conn:
        for statement, parameters in captured:
            rows = conn.exec_driver_sql(prefix + statement, parameters).all()
            plans.append((statement, "\n".join(str(r[-1]) for r in rows)))
    return plans


def test_lookups_use_indexes_not_table_scans(engine: Engine) -> None:
    now = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
    rows = 20_000 if engine.dialect.name == "postgresql" else 5_000
    _fill(engine, rows, now)
    store = SqlSessionStore(engine)
    courier = f"{7:064x}"
    calls = [
        lambda: store.get("fill-7"),
        lambda: store.open_on_proxy(courier, "+3726001007"),
        lambda: store.last_closed_on_proxy(courier, "+3726001007"),
        lambda: store.proxies_in_use([courier], now),
        lambda: store.live_pins("+3726001000", now),
        lambda: store.for_order("order-7"),
        lambda: store.for_customer("cust-7"),
        lambda: store.close_expired(now - timedelta(days=100)),
        lambda: store.purge_closed_before(now - timedelta(days=60)),
    ]

    def check(plans: list[tuple[str, str]]) -> None:
        assert len(plans) == len(calls)
        for statement, plan in plans:
            assert "Seq Scan" not in plan, f"{statement}\n{plan}"
            assert "SCAN masking_session" not in plan, f"{statement}\n{plan}"
        # The expiry index is for housekeeping: a lookup by person or proxy answered from it
        # reads every open session in the table.
        for statement, plan in plans[:-2]:
            assert "closed_expires" not in plan, f"{statement}\n{plan}"

    check(_plans(engine, calls))
    if engine.dialect.name == "sqlite":
        # Tugi never runs ANALYZE on SQLite: the plans must hold without statistics too.
        with engine.begin() as conn:
            conn.execute(text("DROP TABLE sqlite_stat1"))
        check(_plans(engine, calls))


# -- migration ----------------------------------------------------------------------------------


def _migration() -> Any:
    spec = importlib.util.spec_from_file_location("masking_migration_0002", MIGRATION)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_migration_builds_the_table_the_models_describe(empty_engine: Engine) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from alembic.operations import Operations

    migration = _migration()
    assert (migration.revision, migration.down_revision) == ("0002_masking", "0001_history")
    with empty_engine.begin() as conn:
        context = MigrationContext.configure(conn)
        with Operations.context(context):
            migration.upgrade()
    with empty_engine.connect() as conn:
        context = MigrationContext.configure(
            conn,
            opts={
                "include_name": lambda name, kind, parent: kind != "table" or name == "masking_session",
                "compare_type": True,
            },
        )
        differences = compare_metadata(context, Base.metadata)
    ours = [d for d in differences if "masking_session" in repr(d)]
    assert ours == []
    indexes = {i["name"] for i in inspect(empty_engine).get_indexes("masking_session")}
    assert indexes == {i.name for i in masking_session.indexes}

    h = Harness(empty_engine)
    session = h.open()
    assert isinstance(h.service.resolve(COURIER, session.proxy_number), Connect)

    with empty_engine.begin() as conn, Operations.context(MigrationContext.configure(conn)):
        migration.downgrade()
    assert "masking_session" not in inspect(empty_engine).get_table_names()
