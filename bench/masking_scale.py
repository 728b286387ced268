"""Masking with a million live sessions: resolving a call and opening a session, against bare SQL.

Measured, on PostgreSQL (a throw-away database `tugi_bench_masking`) and, for reference, on
SQLite (a temporary file), each with N live sessions loaded by `bench.masking_fixture`:

* resolution — what FastAGI asks when a courier or customer dials a proxy number:
  `MaskingService.resolve(caller, proxy)` through `SqlSessionStore`, for random sessions across
  the whole table (half the callers customers, half couriers; PIN sessions get their PIN), and
  for strangers (no session: refused). Also `SqlSessionStore.open_on_proxy` alone, to split the
  database part from the domain part (number parsing, blind index, decryption).
  Baseline: the bare indexed lookup `SELECT * FROM masking_session WHERE <role>_index = :index
  AND proxy_number = :proxy AND closed_at IS NULL` through the same engine and pool, with the
  index already computed and the role known, no row mapping, no decryption. Latency is one
  caller at a time; throughput is also taken with 4 threads at once (FastAGI resolves in
  `asyncio.to_thread`), baseline and Tugi alternating.
* allocation — `MaskingService.open_session` for fresh couriers as their share of the pool
  fills: a proxy is free for a pair unless one of the two already has a live session on it, so
  "fill" is the share of the 100-number unique pool the courier already holds (the table's other
  million sessions are other people's). At 100% the service refuses (`PoolExhausted`, HTTP 409)
  or, in single-number mode, hands out a PIN on the single-number proxy.
  Baseline: a bare single-row `INSERT ... VALUES` of a prebuilt row plus its COMMIT, same engine.

Subject and baseline run interleaved (blocks, or one insert after each open), since the machine
is shared; ratios against the same-run baseline are the figures to compare. The engine is built
by `tugi.app.create_database_engine`, as Tugi builds it (pool_pre_ping on, SQLite in WAL mode).

Run: python -m bench.masking_scale [--sessions N] [--sqlite-sessions N] [--keep] [--reuse]
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine, text

from bench import masking_fixture as fixture
from history.masking_models import masking_session
from history.masking_store import SqlSessionStore
from masking.crypto import NumberCipher
from masking.errors import PoolExhausted
from masking.model import Connect
from masking.service import MaskingService
from tugi.app import create_database_engine

PG_DATABASE = "tugi_bench_masking"
BLOCKS = 20


@dataclass(frozen=True)
class Probe:
    caller: str
    proxy: str
    pin: str | None
    column: str            # the blind-index column the bare lookup reads: the caller's role
    index: str             # the caller's blind index, computed before timing
    expect: str | None     # the number a Connect must dial; None for a stranger


@dataclass
class Timings:
    seconds: list[float]

    @property
    def p50(self) -> float:
        return statistics.median(self.seconds)

    @property
    def p99(self) -> float:
        if len(self.seconds) < 2:
            return max(self.seconds)
        return statistics.quantiles(self.seconds, n=100)[98]

    @property
    def per_second(self) -> float:
        return len(self.seconds) / sum(self.seconds)


def ms(seconds: float) -> str:
    return f"{seconds * 1e3:.3f} ms"


class Bench:
    def __init__(self, engine: Engine, layout: fixture.Layout, seed: int = 7) -> None:
        self.engine = engine
        self.layout = layout
        self.cipher = NumberCipher(fixture.KEY)
        self.store = SqlSessionStore(engine)
        self.refusals: list[str] = []
        self.services = {
            mode: MaskingService(
                self.store,
                fixture.settings(single_number_mode=mode),
                lambda: datetime.now(UTC),
                self.cipher,
                on_refusal=lambda refusal: self.refusals.append(refusal.code),
            )
            for mode in (True, False)
        }
        self.rng = random.Random(seed)
        self._strangers = 0

    # -- resolution -------------------------------------------------------------------------

    def probe(self) -> Probe:
        plan = self.layout.session(self.rng.randrange(self.layout.sessions))
        if self.rng.random() < 0.5:
            caller, column, expect = plan.customer, "customer_index", plan.courier
        else:
            caller, column, expect = plan.courier, "courier_index", plan.customer
        return Probe(caller, plan.proxy, plan.pin, column, self.cipher.blind_index(caller), expect)

    def stranger(self) -> Probe:
        self._strangers += 1
        caller = fixture.stranger_number(self._strangers)
        proxy = self.rng.choice(fixture.UNIQUE_POOL)
        column = self.rng.choice(("customer_index", "courier_index"))
        return Probe(caller, proxy, None, column, self.cipher.blind_index(caller), None)

    def bare_select(self, probes: list[Probe]) -> list[float]:
        statements = {
            column: text(
                f"SELECT * FROM masking_session WHERE {column} = :index"
                " AND proxy_number = :proxy AND closed_at IS NULL"
            )
            for column in ("customer_index", "courier_index")
        }
        out = []
        for p in probes:
            started = time.perf_counter()
            with self.engine.connect() as conn:
                rows = conn.execute(statements[p.column], {"index": p.index, "proxy": p.proxy}).all()
            out.append(time.perf_counter() - started)
            if p.expect is not None and not rows:
                raise RuntimeError(f"bare lookup found no session for {p}")
        return out

    def store_lookup(self, probes: list[Probe]) -> list[float]:
        out = []
        for p in probes:
            started = time.perf_counter()
            found = self.store.open_on_proxy(p.index, p.proxy)
            out.append(time.perf_counter() - started)
            if not found:
                raise RuntimeError(f"store found no session for {p}")
        return out

    def resolve(self, probes: list[Probe]) -> list[float]:
        service = self.services[True]
        out = []
        for p in probes:
            started = time.perf_counter()
            result = service.resolve(p.caller, p.proxy, p.pin)
            out.append(time.perf_counter() - started)
            if p.expect is None:
                if isinstance(result, Connect):
                    raise RuntimeError(f"a stranger was connected: {p}")
            elif not (isinstance(result, Connect) and result.dial_number == p.expect):
                raise RuntimeError(f"wrong resolution {result!r} for {p}")
        return out

    def measure_resolution(self, per_subject: int) -> dict[str, Timings]:
        subjects: dict[str, tuple[Callable[[list[Probe]], list[float]], Callable[[], Probe]]] = {
            "bare": (self.bare_select, self.probe),
            "store": (self.store_lookup, self.probe),
            "resolve": (self.resolve, self.probe),
            "bare_miss": (self.bare_select, self.stranger),
            "resolve_miss": (self.resolve, self.stranger),
        }
        # Warm the pool, the statement caches and the phone-number metadata outside the timing.
        for run, make in subjects.values():
            run([make() for _ in range(50)])
        results: dict[str, list[float]] = {name: [] for name in subjects}
        block = max(1, per_subject // BLOCKS)
        for _ in range(BLOCKS):
            for name, (run, make) in subjects.items():
                results[name] += run([make() for _ in range(block)])
        return {name: Timings(seconds) for name, seconds in results.items()}

    def measure_throughput(self, threads: int, per_thread: int, rounds: int = 3) -> dict[str, float]:
        """Resolutions per second with `threads` callers at once, as FastAGI's to_thread gives."""
        subjects = {"bare": self.bare_select, "resolve": self.resolve}
        rates: dict[str, list[float]] = {name: [] for name in subjects}
        with ThreadPoolExecutor(threads) as pool:
            for _ in range(rounds):
                for name, run in subjects.items():
                    batches = [[self.probe() for _ in range(per_thread)] for _ in range(threads)]
                    started = time.perf_counter()
                    list(pool.map(run, batches))
                    rates[name].append(threads * per_thread / (time.perf_counter() - started))
        return {name: statistics.median(r) for name, r in rates.items()}

    # -- allocation -------------------------------------------------------------------------

    def measure_allocation(self, couriers: int) -> tuple[dict[int, Timings], Timings, Timings, Timings, str]:
        """Fill `couriers` fresh couriers from 0 to 100 of 100 numbers, one bare insert per open."""
        plain, single = self.services[False], self.services[True]
        rows = fixture.RowBuilder(self.layout, self.cipher, datetime.now(UTC), self.engine.dialect)
        columns = [c.name for c in masking_session.columns]
        insert = text(
            f"INSERT INTO masking_session ({', '.join(columns)}) VALUES ({', '.join(':' + c for c in columns)})"
        )
        by_fill: dict[int, list[float]] = {}
        bare: list[float] = []
        refused: list[float] = []
        pinned: list[float] = []
        message = ""
        # A kept database (--reuse) holds the fresh people of earlier runs: start somewhere new.
        first = random.SystemRandom().randrange(0, 1_000_000 - couriers)
        customer = random.SystemRandom().randrange(0, 1_000_000 - couriers * (len(fixture.UNIQUE_POOL) + 2))
        for f in range(first, first + couriers):
            courier = fixture.fresh_courier_number(f)
            for fill in range(len(fixture.UNIQUE_POOL) + 1):
                customer += 1
                number = fixture.fresh_customer_number(customer)
                started = time.perf_counter()
                try:
                    plain.open_session(f"bench-{customer}", f"c-{customer}", number, f"k-{f}", courier)
                except PoolExhausted as exc:
                    refused.append(time.perf_counter() - started)
                    message = exc.message
                else:
                    by_fill.setdefault(fill, []).append(time.perf_counter() - started)
                # the baseline row: a realistic sealed row for someone outside both pools of people
                row = rows.row(fixture.Planned(
                    customer, fixture.filler_number(2 * customer), -customer, fixture.filler_number(2 * customer + 1),
                    fixture.UNIQUE_POOL[customer % len(fixture.UNIQUE_POOL)], None,
                ))
                row["order_ref"] = f"bare-{customer}"
                started = time.perf_counter()
                with self.engine.begin() as conn:
                    conn.execute(insert, row)
                bare.append(time.perf_counter() - started)
            customer += 1
            started = time.perf_counter()
            session = single.open_session(
                f"bench-{customer}", f"c-{customer}", fixture.fresh_customer_number(customer), f"k-{f}", courier
            )
            pinned.append(time.perf_counter() - started)
            if session.proxy_number != fixture.PIN_PROXY or session.pin is None:
                raise RuntimeError(f"expected a PIN session on the single-number proxy, got {session!r}")
        if len(refused) != couriers:
            raise RuntimeError(f"expected {couriers} refusals at 100% fill, got {len(refused)}")
        return {k: Timings(v) for k, v in by_fill.items()}, Timings(bare), Timings(refused), Timings(pinned), message


def report(name: str, bench: Bench, per_subject: int, couriers: int) -> None:
    res = bench.measure_resolution(per_subject)
    base, miss = res["bare"], res["bare_miss"]
    print(f"\nresolution on {name}, {per_subject:,} random sessions per row, interleaved in {BLOCKS} blocks")
    print("| lookup | p50 | p99 | per second (one thread) | p50 / baseline | p99 / baseline |")
    print("|---|---|---|---|---|---|")
    for label, key, against in (
        ("baseline: bare SELECT by blind index + proxy", "bare", base),
        ("SqlSessionStore.open_on_proxy (both roles)", "store", base),
        ("MaskingService.resolve → Connect", "resolve", base),
        ("baseline: the same SELECT, no such caller", "bare_miss", miss),
        ("MaskingService.resolve, stranger → Refuse", "resolve_miss", miss),
    ):
        t = res[key]
        print(f"| {label} | {ms(t.p50)} | {ms(t.p99)} | {t.per_second:,.0f} | "
              f"{t.p50 / against.p50:.2f} | {t.p99 / against.p99:.2f} |")

    threads = 4
    rate = bench.measure_throughput(threads, max(1, per_subject // 8))
    print(f"\n{threads} threads at once (median of 3 alternating rounds): bare SELECT {rate['bare']:,.0f}/s, "
          f"MaskingService.resolve {rate['resolve']:,.0f}/s ({rate['resolve'] / rate['bare']:.2f} of the baseline)")

    fills, bare, refused, pinned, message = bench.measure_allocation(couriers)
    pool = len(fixture.UNIQUE_POOL)
    print(f"\nallocation on {name}: {couriers} fresh couriers filled 0 → {pool} of {pool} unique numbers, "
          "a bare INSERT after every open")
    print("| open_session | p50 | p99 | p50 / baseline |")
    print("|---|---|---|---|")
    print(f"| baseline: bare INSERT + COMMIT | {ms(bare.p50)} | {ms(bare.p99)} | 1.00 |")
    for percent in (0, 50, 90, 99):
        t = fills[percent * pool // 100]
        print(f"| courier holds {percent}% of the pool | {ms(t.p50)} | {ms(t.p99)} | {t.p50 / bare.p50:.2f} |")
    every = Timings([s for t in fills.values() for s in t.seconds])
    print(f"| all {len(every.seconds):,} opens, 0–99% | {ms(every.p50)} | {ms(every.p99)} | "
          f"{every.p50 / bare.p50:.2f} |")
    print(f"| 100%, single-number mode off → PoolExhausted (409) | {ms(refused.p50)} | {ms(refused.p99)} | "
          f"{refused.p50 / bare.p50:.2f} |")
    print(f"| 100%, single-number mode on → PIN on the single-number proxy | {ms(pinned.p50)} | "
          f"{ms(pinned.p99)} | {pinned.p50 / bare.p50:.2f} |")
    print(f"refusal message: {message!r}")


def run_postgres(sessions: int, per_subject: int, couriers: int, keep: bool, reuse: bool) -> None:
    reused = False
    if reuse and fixture.pg_database_exists(PG_DATABASE):
        engine = create_database_engine(fixture.pg_url(PG_DATABASE))
        reused = fixture.loaded_sessions(engine) == sessions
        if not reused:
            engine.dispose()
    if not reused:
        engine = create_database_engine(fixture.create_pg_database(PG_DATABASE))
    try:
        with engine.connect() as conn:
            version = conn.execute(text("SHOW server_version")).scalar_one()
        if reused:
            gone = fixture.reset_to_layout(engine)
            print(f"\nPostgreSQL {version}: reusing {sessions:,} sessions in {PG_DATABASE} "
                  f"({gone:,} rows of earlier runs deleted)")
        else:
            load = fixture.load_sessions(engine, sessions)
            print(f"\nPostgreSQL {version}: {load.describe()}")
        bench = Bench(engine, fixture.Layout(sessions))
        report(f"PostgreSQL, {sessions:,} live sessions", bench, per_subject, couriers)
    finally:
        engine.dispose()
        if not keep:
            fixture.drop_pg_database(PG_DATABASE)


def run_sqlite(sessions: int, per_subject: int, couriers: int) -> None:
    with tempfile.TemporaryDirectory(prefix="tugi-bench-masking-") as folder:
        engine = create_database_engine(f"sqlite:///{Path(folder) / 'masking.sqlite3'}")
        try:
            load = fixture.load_sessions(engine, sessions)
            print(f"\nSQLite: {load.describe()}")
            bench = Bench(engine, fixture.Layout(sessions))
            report(f"SQLite, {sessions:,} live sessions", bench, per_subject, couriers)
        finally:
            engine.dispose()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=1_000_000, help="live sessions in PostgreSQL")
    parser.add_argument("--sqlite-sessions", type=int, help="live sessions in SQLite (default: --sessions)")
    parser.add_argument("--lookups", type=int, default=4000, help="resolutions per measured row")
    parser.add_argument("--couriers", type=int, default=30, help="couriers whose pool share is filled")
    parser.add_argument("--keep", action="store_true", help=f"keep the PostgreSQL database {PG_DATABASE}")
    parser.add_argument("--reuse", action="store_true", help="reuse a kept database with the same --sessions")
    parser.add_argument("--skip-sqlite", action="store_true")
    parser.add_argument("--skip-postgres", action="store_true")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    if not args.skip_postgres:
        run_postgres(args.sessions, args.lookups, args.couriers, args.keep, args.reuse)
    if not args.skip_sqlite:
        run_sqlite(args.sqlite_sessions or args.sessions, args.lookups, args.couriers)
    print(f"\ntotal {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
