"""Finished calls per second that Tugi's history writer stores, against a raw batched INSERT of the same rows.

Subject: `history.writer.RecordWriter` in front of `history.store.HistoryStore`, wired as the
composition root wires them (`tugi.app.create_database_engine`, `AesGcmProtector`). A burst of
calls is handed to it as the call recorder does (one awaited `submit` each: spooled, fsynced) and
the clock stops when `flush` returns. The figure therefore covers the spool, the idempotent save
(lookups by linkedid and uniqueids, customer and contact-point linking, legs, uniqueids), the
transactions (one per call, or one per batch of calls already waiting) and the encryption and
blind index of every number. After the burst, further calls are sent one at a time to an idle
writer, for the latency of a single call from `submit` until it is in the database.

Baseline: the very rows the writer produced (customers, contact points, interactions, legs,
uniqueids — read back from the writer's database, ciphertext included) inserted again with one
SQLAlchemy Core `executemany` per table in a single transaction into an identically seeded
database. The baseline does no encryption, no lookups and no spooling: it is the floor for
getting those rows into that database, and the ratio says how far above it Tugi's idempotent,
crash-safe path is.

Both backends: SQLite (a file in a temporary directory, WAL as in production) and PostgreSQL
on 127.0.0.1:5432 (a throw-away database `tugi_bench_history`, dropped at the end). Writer and
baseline alternate over several rounds and medians are reported: the machine is small and shared.

Run: python -m bench.history_writes [--calls 5000] [--rounds 3] [--backend sqlite|postgres|both]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import random
import shutil
import statistics
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, Table, create_engine, text
from sqlalchemy.exc import OperationalError

from history import migrate
from history.models import CallLeg, CallUniqueid, Case, ContactPoint, Customer, Interaction
from history.protect import AesGcmProtector, normalise_contact
from history.records import CallRecord, Channel, Disposition, LegRecord, PartyKind
from history.store import HistoryStore, customer_number
from history.writer import RecordWriter
from tugi.app import create_database_engine

PG_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432"
PG_DATABASE = "tugi_bench_history"
KEY = "bench-history-key-5d1e0c7a9b"
T0 = datetime(2026, 11, 2, 7, 0, tzinfo=UTC)
STAFF = ("mari", "jaan", "kadri", "peeter", "liis", "toomas", "anu", "rein")
SEED_CUSTOMERS = 400    # known before the run, with their numbers
NEW_CUSTOMERS = 1200    # first seen during the run
SEED_CASES = 250
COURIERS = 25
QUIET_CALLS = 200
# the tables a stored call touches, parents first so that foreign keys hold while inserting
CALL_TABLES: tuple[Table, ...] = tuple(
    model.__table__ for model in (Customer, ContactPoint, Interaction, CallLeg, CallUniqueid)  # type: ignore[misc]
)
HISTORY_TABLES = "call_uniqueid, call_leg, interaction, support_case, contact_point, customer, event_journal"


# ------------------------------------------------------------------ the workload


@dataclass
class Workload:
    """The calls to store, and the state the database holds before the first one."""

    records: list[CallRecord]                 # stored in a burst: the throughput figures
    quiet: list[CallRecord]                   # then one at a time: the latency of a call alone
    seed: dict[Table, list[dict[str, Any]]]


def phone(prefix: str, n: int) -> str:
    return f"+372{prefix}{n:05d}"


def build_workload(calls: int, protector: AesGcmProtector, seed: int = 20261102) -> Workload:
    """Deterministic, varied calls: several legs, repeat customers (skewed), orders, cases, couriers."""
    rng = random.Random(seed)
    known = [f"cust-{n:05d}" for n in range(SEED_CUSTOMERS)]
    new = [f"cust-{n:05d}" for n in range(SEED_CUSTOMERS, SEED_CUSTOMERS + NEW_CUSTOMERS)]
    everyone = known + new
    # a few customers call often, most once or twice
    weights = [1.0 / (rank + 1) ** 0.8 for rank in range(len(everyone))]
    rng.shuffle(weights)
    numbers = {cid: phone("555", n) for n, cid in enumerate(everyone)}
    cases = [(f"case-{n:04d}", rng.choice(known), f"order-{rng.randrange(10**6):06d}") for n in range(SEED_CASES)]

    records = []
    at = T0
    for n in range(calls + QUIET_CALLS):
        at += timedelta(seconds=rng.expovariate(1 / 20))
        records.append(_call(rng, n, at, rng.choices(everyone, weights)[0], numbers, cases))

    created = T0 - timedelta(days=30)
    seed_rows: dict[Table, list[dict[str, Any]]] = {
        Customer.__table__: [  # type: ignore[dict-item]
            {"id": cid, "display_name": "", "created_at": created, "erased_at": None} for cid in known
        ],
        ContactPoint.__table__: [  # type: ignore[dict-item]
            {
                "id": n + 1, "customer_id": cid, "kind": "phone", "created_at": created,
                "value_index": protector.blind_index(numbers[cid]), "value_encrypted": protector.encrypt(numbers[cid]),
            }
            for n, cid in enumerate(known)
        ],
        Case.__table__: [  # type: ignore[dict-item]
            {"id": case, "customer_id": cid, "order_ref": order, "topic": "parcel", "owner": rng.choice(STAFF),
             "status": "open", "opened_at": created, "closed_at": None}
            for case, cid, order in cases
        ],
    }
    return Workload(records[:calls], records[calls:], seed_rows)


def _call(rng: random.Random, n: int, at: datetime, cid: str, numbers: dict[str, str],
          cases: list[tuple[str, str, str]]) -> CallRecord:
    # Asterisk-style uniqueids: epoch seconds, then a counter
    epoch, counter = 1793600000 + n, n * 8
    linkedid = f"{epoch}.{counter}"
    channel = rng.choices(
        (Channel.WEB, Channel.PHONE, Channel.CALLBACK, Channel.MASKED, Channel.INTERNAL, Channel.OUTBOUND),
        (40, 33, 10, 8, 4, 5),
    )[0]
    disposition = rng.choices(
        (Disposition.ANSWERED, Disposition.ABANDONED, Disposition.NO_ANSWER, Disposition.BUSY), (80, 10, 7, 3)
    )[0]
    ring = rng.uniform(2, 40)
    talk = rng.uniform(20, 600)
    answered = at + timedelta(seconds=ring) if disposition is Disposition.ANSWERED else None
    ended = (answered + timedelta(seconds=talk)) if answered else at + timedelta(seconds=ring)
    tried = rng.sample(STAFF, rng.randint(1, 3))
    agent = tried[-1] if answered else None

    caller_number = callee_number = customer_id = order_ref = case_ref = page_ref = None
    caller_ref: str | None = None
    caller_kind = PartyKind.CUSTOMER
    if channel is Channel.WEB:
        caller_kind = PartyKind.WEB_VISITOR
        if rng.random() < 0.7:  # logged in: the widget names the customer
            customer_id = caller_ref = cid
            caller_number = numbers[cid]
        page_ref = f"https://shop.example/p/{rng.randrange(5000)}"
    elif channel is Channel.PHONE:
        # most callers ring from the number the shop knows; some from a new one
        caller_number = numbers[cid] if rng.random() < 0.85 else phone("58", rng.randrange(10**5))
    elif channel is Channel.CALLBACK:
        caller_kind, caller_ref, customer_id, callee_number = PartyKind.STAFF, tried[0], cid, numbers[cid]
    elif channel is Channel.MASKED:
        courier = rng.randrange(COURIERS)
        caller_kind, caller_ref = PartyKind.COURIER, f"courier-{courier}"
        caller_number, callee_number = phone("500", courier), numbers[cid]
        order_ref = f"order-{rng.randrange(10**6):06d}"
    elif channel is Channel.INTERNAL:
        caller_kind, caller_ref = PartyKind.STAFF, rng.choice(STAFF)
    else:
        caller_kind, caller_ref, callee_number = PartyKind.STAFF, rng.choice(STAFF), phone("6", rng.randrange(10**6))
    if channel in (Channel.WEB, Channel.PHONE, Channel.CALLBACK):
        if rng.random() < 0.3:
            order_ref = f"order-{rng.randrange(10**6):06d}"
        if rng.random() < 0.08:
            case_ref = rng.choice(cases)[0]

    legs = [LegRecord(uniqueid=linkedid, party_kind=caller_kind, party_ref=caller_ref, started_at=at, ended_at=ended,
                      answered_at=at, outcome="answered", is_caller=True)]
    step = at
    for k, staff in enumerate(tried, start=1):
        last = k == len(tried)
        leg_end = ended if last else step + timedelta(seconds=rng.uniform(5, 15))
        legs.append(LegRecord(
            uniqueid=f"{epoch}.{counter + k}", party_kind=PartyKind.STAFF, party_ref=staff, started_at=step,
            ended_at=leg_end, answered_at=answered if last else None,
            outcome=("answered" if answered else "cancelled") if last else "no_answer",
            hangup_cause=16 if last else 19, hold_seconds=rng.choice((0.0, 0.0, 12.5)),
        ))
        step = leg_end
    transfers = 0
    if answered and rng.random() < 0.12:
        transfers = 1
        legs.append(LegRecord(
            uniqueid=f"{epoch}.{counter + 7}", party_kind=PartyKind.STAFF, party_ref=rng.choice(STAFF),
            started_at=ended - timedelta(seconds=30), ended_at=ended, answered_at=ended - timedelta(seconds=25),
            outcome="answered", hangup_cause=16,
        ))
    return CallRecord(
        linkedid=linkedid, channel=channel, started_at=at, ended_at=ended, disposition=disposition, legs=tuple(legs),
        answered_at=answered, answered_by=agent, caller_kind=caller_kind, caller_ref=caller_ref,
        caller_number=caller_number, callee_number=callee_number, customer_id=customer_id, case_ref=case_ref,
        order_ref=order_ref, page_ref=page_ref, route=(*(f"person:{s}" for s in tried), "team"),
        targets_tried=tuple(tried), queue_seconds=round(rng.uniform(0, 30), 2), transfers=transfers,
        uniqueids=tuple(leg.uniqueid for leg in legs), extra={"lang": rng.choice(("et", "en", "ru"))},
    )


# ------------------------------------------------------------------ databases


class Backend:
    """Hands out an empty, migrated, seeded history database for every phase."""

    name = ""

    def fresh(self, label: str, seed: dict[Table, list[dict[str, Any]]]) -> Engine:
        raise NotImplementedError

    def close(self) -> None:
        pass


class SqliteBackend(Backend):
    name = "SQLite"

    def __init__(self, folder: Path) -> None:
        self._folder = folder
        self._template = folder / "template.sqlite3"
        migrate.upgrade(f"sqlite:///{self._template}")

    def fresh(self, label: str, seed: dict[Table, list[dict[str, Any]]]) -> Engine:
        path = self._folder / f"{label}.sqlite3"
        shutil.copy(self._template, path)
        engine = create_database_engine(f"sqlite:///{path}")
        _seed(engine, seed)
        return engine


class PostgresBackend(Backend):
    name = "PostgreSQL"

    def __init__(self) -> None:
        self.url = f"{PG_SERVER}/{PG_DATABASE}"
        _drop_pg()  # a crashed earlier run may have left it
        with _pg_admin() as admin:
            admin.execute(text(f'CREATE DATABASE "{PG_DATABASE}"'))
        migrate.upgrade(self.url)

    def fresh(self, label: str, seed: dict[Table, list[dict[str, Any]]]) -> Engine:
        engine = create_database_engine(self.url)
        with engine.begin() as connection:
            connection.execute(text(f"TRUNCATE {HISTORY_TABLES} RESTART IDENTITY CASCADE"))
        _seed(engine, seed)
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("ANALYZE"))
        return engine

    def close(self) -> None:
        _drop_pg()


@contextlib.contextmanager
def _pg_admin() -> Iterator[Connection]:
    engine = create_engine(f"{PG_SERVER}/postgres", isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            yield connection
    finally:
        engine.dispose()


def _drop_pg() -> None:
    with _pg_admin() as admin:
        admin.execute(text(f'DROP DATABASE IF EXISTS "{PG_DATABASE}" WITH (FORCE)'))


def _seed(engine: Engine, seed: dict[Table, list[dict[str, Any]]]) -> None:
    with engine.begin() as connection:
        for table, rows in seed.items():
            connection.execute(table.insert(), rows)
        if engine.dialect.name == "postgresql":
            # explicit seed ids bypass the sequence; move it past them as a live database would be
            connection.execute(text("SELECT setval('contact_point_id_seq', (SELECT max(id) FROM contact_point))"))


def _dump(engine: Engine, seed: dict[Table, list[dict[str, Any]]]) -> dict[Table, list[dict[str, Any]]]:
    """The rows the writer added, table by table, exactly as stored."""
    seeded = {table: {tuple(row[c.name] for c in table.primary_key) for row in rows} for table, rows in seed.items()}
    out = {}
    with engine.connect() as connection:
        for table in CALL_TABLES:
            keys = seeded.get(table, set())
            rows = [row._asdict() for row in connection.execute(table.select().order_by(*table.primary_key))]
            out[table] = [row for row in rows if tuple(row[c.name] for c in table.primary_key) not in keys]
    return out


def _counts(engine: Engine) -> tuple[int, ...]:
    with engine.connect() as connection:
        return tuple(connection.execute(text(f"SELECT count(*) FROM {t.name}")).scalar_one() for t in CALL_TABLES)


# ------------------------------------------------------------------ the two contenders


class TimedSink:
    """The store as the writer sees it, timing each transaction (the database part of a delivery)."""

    def __init__(self, store: HistoryStore) -> None:
        self._store = store
        self.transactions: list[tuple[float, int]] = []  # (seconds, calls in it)

    def save_call(self, record: CallRecord) -> int:
        started = time.perf_counter()
        try:
            return self._store.save_call(record)
        finally:
            self.transactions.append((time.perf_counter() - started, 1))


class TimedBatchSink(TimedSink):
    """Offered to the writer only when the store can save several calls at once, as the real one is."""

    def save_calls(self, records: Sequence[CallRecord]) -> list[int]:
        started = time.perf_counter()
        try:
            return self._store.save_calls(records)
        finally:
            self.transactions.append((time.perf_counter() - started, len(records)))


@dataclass
class WriterRun:
    elapsed: float
    submit: list[float] = field(default_factory=list)
    transactions: list[tuple[float, int]] = field(default_factory=list)


async def run_writer(engine: Engine, protector: AesGcmProtector, records: Sequence[CallRecord],
                     spool: Path) -> WriterRun:
    """Submit every call as the call recorder does (one awaited submit each), then wait until all are stored."""
    store = HistoryStore(engine, protector)
    # the bench also runs against a checkout whose store has no save_calls, for before/after figures
    sink = TimedBatchSink(store) if hasattr(store, "save_calls") else TimedSink(store)
    writer = RecordWriter(sink, spool)
    await writer.start()
    submits = []
    try:
        started = time.perf_counter()
        for record in records:
            before = time.perf_counter()
            await writer.submit(record)
            submits.append(time.perf_counter() - before)
        await writer.flush()
        elapsed = time.perf_counter() - started
    finally:
        await writer.stop()
    return WriterRun(elapsed, submits, sink.transactions)


async def run_quiet(engine: Engine, protector: AesGcmProtector, records: Sequence[CallRecord],
                    spool: Path) -> list[float]:
    """Seconds from submit until stored, for calls that each find the writer idle."""
    seconds = []
    async with RecordWriter(HistoryStore(engine, protector), spool) as writer:
        for record in records:
            started = time.perf_counter()
            await writer.submit(record)
            await writer.flush()
            seconds.append(time.perf_counter() - started)
    return seconds


def run_baseline(engine: Engine, rows: dict[Table, list[dict[str, Any]]]) -> float:
    """The same rows, one executemany per table, one transaction."""
    started = time.perf_counter()
    with engine.begin() as connection:
        for table in CALL_TABLES:
            if rows[table]:
                connection.execute(table.insert(), rows[table])
    return time.perf_counter() - started


def protection_seconds(protector: AesGcmProtector, records: Sequence[CallRecord]) -> float:
    """What encrypting and indexing each call's numbers costs alone (the writer does it, the baseline not)."""
    started = time.perf_counter()
    for record in records:
        for number in (record.caller_number, record.callee_number):
            if number is not None:
                clear = normalise_contact("phone", number)
                protector.encrypt(clear)
                protector.blind_index(clear)
        if (number := customer_number(record)) is not None:
            protector.blind_index(normalise_contact("phone", number))
    return time.perf_counter() - started


# ------------------------------------------------------------------ driver


@dataclass
class Result:
    backend: str
    calls: int
    writer: list[float] = field(default_factory=list)     # calls/s per round
    baseline: list[float] = field(default_factory=list)
    transactions: list[tuple[float, int]] = field(default_factory=list)  # every round's
    submit: list[float] = field(default_factory=list)
    save_share: list[float] = field(default_factory=list)  # of the writer's wall time
    quiet: list[float] = field(default_factory=list)       # submit to stored, writer otherwise idle


def measure(backend: Backend, work: Workload, protector: AesGcmProtector, rounds: int, folder: Path) -> Result:
    calls = len(work.records)
    result = Result(backend.name, calls)
    rows: dict[Table, list[dict[str, Any]]] | None = None
    expected: tuple[int, ...] | None = None
    for number in range(rounds):
        # alternate who goes first, so that drift on a shared machine hurts both alike
        order = ("writer", "baseline") if number % 2 == 0 or rows is None else ("baseline", "writer")
        for phase in order:
            engine = backend.fresh(f"{phase}-{number}", work.seed)
            try:
                if phase == "writer":
                    spool = folder / f"spool-{backend.name}-{number}"
                    run = asyncio.run(run_writer(engine, protector, work.records, spool))
                    result.writer.append(calls / run.elapsed)
                    result.transactions += run.transactions
                    result.submit += run.submit
                    result.save_share.append(sum(seconds for seconds, _ in run.transactions) / run.elapsed)
                    if rows is None:
                        rows = _dump(engine, work.seed)
                    counts = _counts(engine)
                    # after the burst, on the database it left: a realistic size to look things up in
                    quiet = asyncio.run(run_quiet(engine, protector, work.quiet, spool))
                    result.quiet += quiet
                else:
                    assert rows is not None
                    result.baseline.append(calls / run_baseline(engine, rows))
                    counts = _counts(engine)
                if expected is None:
                    expected = counts
                elif counts != expected:
                    raise RuntimeError(f"{backend.name} {phase}: stored {counts}, expected {expected}")
            finally:
                engine.dispose()
        print(f"  {backend.name} round {number + 1}: writer {result.writer[-1]:,.0f} calls/s, "
              f"baseline {result.baseline[-1]:,.0f} calls/s", flush=True)
    if expected is not None:
        added = zip(CALL_TABLES, expected, strict=True)
        names = ", ".join(f"{t.name} {n - len(work.seed.get(t, ()))}" for t, n in added)
        print(f"  rows written per run: {names}", flush=True)
    return result


def report(results: list[Result], protect_us: float) -> None:
    def pct(values: list[float], q: int) -> float:
        return statistics.quantiles(values, n=100)[q - 1] * 1e3

    print()
    print("| backend | calls | Tugi writer calls/s | baseline calls/s | ratio writer/baseline "
          "| one call alone, submit to stored: p50 | p99 |")
    print("|---|---|---|---|---|---|---|")
    for r in results:
        w, b = statistics.median(r.writer), statistics.median(r.baseline)
        print(f"| {r.backend} | {r.calls:,} | {w:,.0f} | {b:,.0f} | {w / b:.3f} "
              f"| {pct(r.quiet, 50):.2f} ms | {pct(r.quiet, 99):.2f} ms |")
    print()
    print("Inside the burst:")
    print()
    print("| backend | calls per transaction | transaction p50 | p99 | store time per call "
          "| submit p50 | p99 | store share of writer time |")
    print("|---|---|---|---|---|---|---|---|")
    for r in results:
        seconds = [t for t, _ in r.transactions]
        stored = sum(n for _, n in r.transactions)
        print(f"| {r.backend} | {stored / len(seconds):.1f} | {pct(seconds, 50):.2f} ms | {pct(seconds, 99):.2f} ms "
              f"| {sum(seconds) / stored * 1e3:.2f} ms | {pct(r.submit, 50):.2f} ms | {pct(r.submit, 99):.2f} ms "
              f"| {statistics.median(r.save_share):.0%} |")
    print()
    print("Rates are medians of the rounds; latencies pool every round. transaction = one store call "
          "inside the writer (save_call, or save_calls for the records waiting); submit = the awaited, "
          f"fsynced spool append the call recorder waits for. One call alone: {QUIET_CALLS} further calls, "
          "each submitted once the writer is idle, timed until flush returns.")
    print(f"Encrypting and blind-indexing a call's numbers alone costs {protect_us:.0f} µs per call: "
          "part of the writer's cost, none of the baseline's (it inserts ready-made ciphertext).")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--calls", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="both")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)

    protector = AesGcmProtector(KEY)
    work = build_workload(args.calls, protector)
    legs = sum(len(r.legs) for r in work.records)
    orders = sum(1 for r in work.records if r.order_ref) / args.calls
    cases = sum(1 for r in work.records if r.case_ref) / args.calls
    print(f"{args.calls:,} calls, {legs / args.calls:.2f} legs per call, {orders:.0%} with an order, "
          f"{cases:.0%} with a case; {args.rounds} rounds", flush=True)
    protect_us = min(protection_seconds(protector, work.records) for _ in range(3)) / args.calls * 1e6

    results = []
    with tempfile.TemporaryDirectory(prefix="tugi-bench-history-") as tmp:
        folder = Path(tmp)
        if args.backend in ("sqlite", "both"):
            results.append(measure(SqliteBackend(folder), work, protector, args.rounds, folder))
        if args.backend in ("postgres", "both"):
            try:
                backend: Backend = PostgresBackend()
            except OperationalError as exc:
                print(f"PostgreSQL skipped: not reachable on 127.0.0.1:5432 ({exc.orig})")
            else:
                try:
                    results.append(measure(backend, work, protector, args.rounds, folder))
                finally:
                    backend.close()
    report(results, protect_us)


if __name__ == "__main__":
    main()
