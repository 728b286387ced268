"""A masking table with N live sessions, loaded fast but written in the store's own format.

Shared by `bench.masking_scale` and `bench.memory`. Every row is a `StoredSession` built with
Tugi's `NumberCipher` (AES-GCM sealed numbers, HMAC blind indexes) and turned into a row by
`history.masking_store`'s own row builder, so the table holds exactly what `SqlSessionStore.add`
would have written; only the writing is bulk (COPY on PostgreSQL, executemany on SQLite, the
indexes built once after the rows instead of row by row).

The layout is deterministic, so a benchmark can recompute the clear numbers and proxy of any
session `i` without reading the table:

* every session has its own customer; couriers carry 50 live sessions each, on 50 distinct
  proxy numbers of a 100-number unique pool;
* one courier in 20,000 sessions (50 at one million) is "heavy": all 100 unique numbers, and
  100 more sessions with PINs on the single-number proxy, so the PIN path has real rows too.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Dialect, Engine, create_engine, func, select, text
from sqlalchemy.engine import make_url

from config.schema import Asterisk, Masking, Settings, Shop
from history.masking_models import masking_session
from history.masking_store import _to_row
from history.migrate import upgrade
from masking.crypto import NumberCipher
from masking.store import StoredSession

KEY = "bench-masking-key-0123456789abcdef"
PG_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
PIN_PROXY = "+3726001000"
UNIQUE_POOL = tuple(f"+3726{1001 + k:06d}" for k in range(100))
PER_COURIER = 50
HEAVY_EVERY = 20_000
HEAVY_MAX = 50  # 50 heavy couriers x 100 PINs = half of the 4-digit PIN space
MAX_SESSIONS = 3_000_000  # customers are +3725 1000000.. +3725 3999999
TTL = timedelta(hours=72)


def settings(*, single_number_mode: bool) -> Settings:
    """Shop settings for the benchmark pool; single-number mode puts PIN_PROXY first."""
    pool = (PIN_PROXY, *UNIQUE_POOL) if single_number_mode else UNIQUE_POOL
    return Settings(
        shop=Shop(name="Bench"),
        asterisk=Asterisk(ami_secret="x"),
        masking=Masking(pool=pool, single_number_mode=single_number_mode, encryption_key=KEY),
    )


def customer_number(i: int) -> str:
    return f"+3725{1_000_000 + i:07d}"


def courier_number(c: int) -> str:
    return f"+37256{c:06d}"


def fresh_customer_number(m: int) -> str:
    """Numbers outside the loaded layout, for sessions a benchmark opens itself."""
    return f"+37257{m:06d}"


def fresh_courier_number(f: int) -> str:
    return f"+37258{f:06d}"


def filler_number(k: int) -> str:
    """A number for rows written beside the service (baseline inserts); nobody ever dials it."""
    return f"+37250{k:08d}"


def stranger_number(s: int) -> str:
    """A valid mobile number that has no session at all."""
    return f"+37259{s:06d}"


@dataclass(frozen=True)
class Planned:
    """Session `i` of the layout, in clear."""

    i: int
    customer: str
    courier_id: int
    courier: str
    proxy: str
    pin: str | None


class Layout:
    def __init__(self, sessions: int) -> None:
        if not 0 < sessions <= MAX_SESSIONS:
            raise ValueError(f"sessions must be between 1 and {MAX_SESSIONS:,}")
        self.sessions = sessions
        self.heavy = min(HEAVY_MAX, sessions // HEAVY_EVERY)
        self.heavy_sessions = self.heavy * 2 * len(UNIQUE_POOL)
        self.couriers = self.heavy + -(-(sessions - self.heavy_sessions) // PER_COURIER)

    def session(self, i: int) -> Planned:
        pool = len(UNIQUE_POOL)
        if i < self.heavy_sessions:
            courier, k = divmod(i, 2 * pool)
            if k < pool:
                proxy, pin = UNIQUE_POOL[k], None
            else:
                proxy, pin = PIN_PROXY, f"{courier * pool + k - pool:04d}"
        else:
            j = i - self.heavy_sessions
            courier = self.heavy + j // PER_COURIER
            # 50 consecutive positions modulo 100 are distinct: one proxy per live session
            proxy, pin = UNIQUE_POOL[(courier * 37 + j % PER_COURIER) % pool], None
        return Planned(i, customer_number(i), courier, courier_number(courier), proxy, pin)


def stored_session(
    plan: Planned, cipher: NumberCipher, now: datetime, courier_index: str, session_id: str
) -> StoredSession:
    """The session `MaskingService.open_session` would have stored for this plan."""
    created = now - timedelta(seconds=(plan.i * 7919) % (48 * 3600))
    return StoredSession(
        id=session_id,
        order_ref=f"o-{plan.i}",
        case_ref=None,
        customer_ref=f"cust-{plan.i}",
        customer_sealed=cipher.encrypt(plan.customer),
        customer_index=cipher.blind_index(plan.customer),
        courier_ref=f"courier-{plan.courier_id}",
        courier_sealed=cipher.encrypt(plan.courier),
        courier_index=courier_index,
        proxy_number=plan.proxy,
        pin=plan.pin,
        created_at=created,
        expires_at=created + TTL,
        closed_at=None,
        erased=False,
    )


@dataclass
class LoadReport:
    sessions: int
    build_seconds: float   # sealing, indexing and row building in Python
    write_seconds: float   # COPY / executemany, without indexes
    index_seconds: float   # building the masking indexes (and ANALYZE on PostgreSQL)

    @property
    def total_seconds(self) -> float:
        return self.build_seconds + self.write_seconds + self.index_seconds

    def describe(self) -> str:
        return (
            f"loaded {self.sessions:,} sessions in {self.total_seconds:.1f} s "
            f"({self.sessions / self.total_seconds:,.0f} rows/s: rows built {self.build_seconds:.1f} s, "
            f"written {self.write_seconds:.1f} s, indexed {self.index_seconds:.1f} s)"
        )


class RowBuilder:
    """Rows in table column order, with the build time kept apart from the writer's time."""

    def __init__(self, layout: Layout, cipher: NumberCipher, now: datetime, dialect: Dialect) -> None:
        self.layout, self.cipher, self.now = layout, cipher, now
        self.columns = [c.name for c in masking_session.columns]
        self.build_seconds = 0.0
        # The store writes through the column types (UtcDateTime normalises to UTC, and SQLite
        # keeps text in SQLAlchemy's own format); the bulk path applies the same processors.
        processors = {c.name: c.type.dialect_impl(dialect).bind_processor(dialect) for c in masking_session.columns}
        self._convert = {name: p for name, p in processors.items() if p is not None}
        self._courier_index: dict[int, str] = {}
        self._ids = _session_ids()

    def row(self, plan: Planned) -> dict[str, Any]:
        """The column values for `plan`, converted as the driver receives them."""
        index = self._courier_index.get(plan.courier_id)
        if index is None:
            index = self._courier_index[plan.courier_id] = self.cipher.blind_index(plan.courier)
        row = _to_row(stored_session(plan, self.cipher, self.now, index, next(self._ids)))
        for name, convert in self._convert.items():
            row[name] = convert(row[name])
        return row

    def batches(self, size: int) -> Iterator[list[tuple]]:
        batch: list[tuple] = []
        started = time.perf_counter()
        for i in range(self.layout.sessions):
            row = self.row(self.layout.session(i))
            batch.append(tuple(row[name] for name in self.columns))
            if len(batch) == size:
                self.build_seconds += time.perf_counter() - started
                yield batch
                batch = []
                started = time.perf_counter()
        self.build_seconds += time.perf_counter() - started
        if batch:
            yield batch


def _session_ids() -> Iterator[str]:
    # secrets.token_hex(16) per row, as the service does, costs a syscall each; random bits from
    # one urandom call per 4,096 ids give the same format and the same random B-tree order.
    while True:
        block = os.urandom(16 * 4096).hex()
        for k in range(4096):
            yield block[32 * k : 32 * (k + 1)]


def load_sessions(engine: Engine, sessions: int, now: datetime | None = None, *, batch: int = 20_000) -> LoadReport:
    """Migrate the database, then fill `masking_session` with the layout's live sessions.

    The table must be empty. Indexes are dropped before the load and rebuilt from the model
    afterwards (the migration and the model define the same ones).
    """
    now = now or datetime.now(UTC)
    url = engine.url.render_as_string(hide_password=False)
    upgrade(url)
    layout = Layout(sessions)
    rows = RowBuilder(layout, NumberCipher(KEY), now, engine.dialect)
    with engine.begin() as conn:
        if conn.execute(select(func.count()).select_from(masking_session)).scalar_one():
            raise RuntimeError("masking_session is not empty; load into a fresh database")
        for index in masking_session.indexes:
            index.drop(conn)

    write = 0.0
    if engine.dialect.name == "postgresql":
        columns = ", ".join(rows.columns)
        raw = engine.raw_connection()
        try:
            cursor = raw.driver_connection.cursor()
            with cursor.copy(f"COPY masking_session ({columns}) FROM STDIN") as copy:
                for chunk in rows.batches(batch):
                    started = time.perf_counter()
                    for row in chunk:
                        copy.write_row(row)
                    write += time.perf_counter() - started
            started = time.perf_counter()
            raw.commit()
            write += time.perf_counter() - started
        finally:
            raw.close()
    else:
        placeholders = ", ".join("?" for _ in rows.columns)
        statement = f"INSERT INTO masking_session ({', '.join(rows.columns)}) VALUES ({placeholders})"
        raw = engine.raw_connection()
        try:
            cursor = raw.cursor()
            for chunk in rows.batches(batch):
                started = time.perf_counter()
                cursor.executemany(statement, chunk)
                write += time.perf_counter() - started
            started = time.perf_counter()
            raw.commit()
            write += time.perf_counter() - started
        finally:
            raw.close()

    started = time.perf_counter()
    with engine.begin() as conn:
        for index in masking_session.indexes:
            index.create(conn)
    if engine.dialect.name == "postgresql":
        # What autovacuum would have done by the time a real table reached this size.
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE masking_session"))
    return LoadReport(sessions, rows.build_seconds, write, time.perf_counter() - started)


# -- a throw-away PostgreSQL database ---------------------------------------------------------


def pg_url(name: str) -> str:
    return make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)


def create_pg_database(name: str) -> str:
    """Create (or recreate) database `name` on the local server; return its URL."""
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()
    return pg_url(name)


def pg_database_exists(name: str) -> bool:
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            found = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).first()
    finally:
        admin.dispose()
    return found is not None


def drop_pg_database(name: str) -> None:
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


def loaded_sessions(engine: Engine) -> int:
    """How many layout sessions the table holds (rows opened by a benchmark have other refs)."""
    with engine.connect() as conn:
        return conn.execute(
            select(func.count()).select_from(masking_session).where(masking_session.c.order_ref.like("o-%"))
        ).scalar_one()


def reset_to_layout(engine: Engine) -> int:
    """Delete the rows a benchmark added to a kept table (opened sessions, baseline inserts)."""
    with engine.begin() as conn:
        gone = conn.execute(text("DELETE FROM masking_session WHERE order_ref NOT LIKE 'o-%'")).rowcount
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE masking_session"))
    return gone
