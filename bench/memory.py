"""Tugi's resident memory with 10,000 live calls tracked and one million masking sessions.

Each scenario runs in a fresh process (spawned), so one scenario's freed memory never hides
another's growth. Memory is VmRSS from /proc/self/status after a garbage collection.

* Baseline: the process after importing Tugi and building the parts under test, with nothing
  in them: a `CelTracker` alone, or Tugi's whole composition root (`tugi.app.Engine`: database
  engine, masking service, history store, call recorder, AMI and AGI objects; nothing started).
* Live calls: 10,000 inbound calls, each a customer via the carrier answered by a staff phone
  (two legs, ten CEL events: CHAN_START, the route AGI, TUGI_ROUTE, Dial, the staff leg's
  CHAN_START, two ANSWERs, two BRIDGE_ENTERs; no hang-up, so every call stays live). Each event
  is written as the AMI frame Asterisk 22 sends (all 23 headers of a `CEL` event) and parsed by
  Tugi's own `ami_protocol.parse_frame`, so it holds fresh strings as a live one does; it is then
  fed to a `CelTracker` directly (as a plain dict, the way `CallRecorder` hands it on), and, in
  the Engine scenario, through `CallRecorder.on_event` as Tugi's AMI listener does (which also
  keeps each call's raw events until the call ends, for the journal).
* Sessions: one million live sessions in PostgreSQL (`bench.masking_fixture`, loaded by a child
  process into a throw-away database `tugi_bench_memory`); the Engine's `MaskingService` then
  resolves random sessions across the table, and RSS is read after 1,000, 11,000 and 21,000
  resolutions: sessions live in the database, so the process must not grow with them.
* tracemalloc, in its own process: bytes held per live call and the source lines holding them.

Run: python -m bench.memory [--calls 10000] [--sessions 1000000] [--keep]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import random
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from multiprocessing import get_context
from pathlib import Path
from string import Template
from typing import Any

from bench import masking_fixture as fixture
from config.schema import Masking, Settings
from masking.model import Connect
from pbx_bridge.ami_protocol import AmiMessage, parse_frame
from pbx_bridge.call_recorder import CallRecorder
from pbx_bridge.cel_tracker import CelTracker
from tests.support.cel_table import parse_table
from tests.support.shop import test_settings

PG_DATABASE = "tugi_bench_memory"

# One answered inbound call, as tests/fixtures/cel/inbound_failover.txt records its first
# attempt, with the parts that differ per call left as $placeholders.
CALL = """
eventname    | timestamp         | cid_num | cid_name | exten       | context           | channame     | appname         | appdata                               | uniqueid | linkedid | peer         | extra
CHAN_START   | 1795443720.624997 | $cid    |          | +3726005000 | tugi-from-carrier | $caller_chan |                 |                                       | $uid0    | $uid0    |              |
APP_START    | 1795443720.627059 | $cid    |          | s           | tugi-route        | $caller_chan | AGI             | agi://127.0.0.1:24573/route,inbound,0 | $uid0    | $uid0    |              |
APP_END      | 1795443720.627505 | $cid    |          | s           | tugi-route        | $caller_chan | AGI             | agi://127.0.0.1:24573/route,inbound,0 | $uid0    | $uid0    |              |
TUGI_ROUTE   | 1795443720.627657 | $cid    |          | s           | tugi-route        | $caller_chan | CELGenUserEvent | TUGI_ROUTE,person:$staff              | $uid0    | $uid0    |              | {"extra":"person:$staff"}
APP_START    | 1795443720.629831 | $cid    |          | s           | tugi-route        | $caller_chan | Dial            | PJSIP/$staff,6,Ib(tugi-predial^s^1)   | $uid0    | $uid0    |              |
CHAN_START   | 1795443720.630662 | $ext    | $name    | s           | tugi-internal     | $callee_chan |                 |                                       | $uid1    | $uid0    |              |
ANSWER       | 1795443723.162380 | $ext    | $name    | s           | tugi-internal     | $callee_chan | AppDial         | (Outgoing Line)                       | $uid1    | $uid0    |              |
ANSWER       | 1795443723.162440 | $cid    |          | s           | tugi-route        | $caller_chan | Dial            | PJSIP/$staff,6,Ib(tugi-predial^s^1)   | $uid0    | $uid0    |              |
BRIDGE_ENTER | 1795443723.166430 | $ext    | $name    |             | tugi-internal     | $callee_chan | AppDial         | (Outgoing Line)                       | $uid1    | $uid0    |              | {"bridge_id":"$bridge","bridge_technology":"simple_bridge"}
BRIDGE_ENTER | 1795443723.166511 | $cid    |          | s           | tugi-route        | $caller_chan | Dial            | PJSIP/$staff,6,Ib(tugi-predial^s^1)   | $uid0    | $uid0    | $callee_chan | {"bridge_id":"$bridge","bridge_technology":"simple_bridge"}
"""  # noqa: E501 (a fixture table reads best unwrapped)
# A CEL event's headers in the order cel_manager (Asterisk 22) sends them, with the values of
# those the table leaves out.
AMI_HEADERS = (
    "Event", "Privilege", "Timestamp", "EventName", "UserDefType", "AccountCode", "CallerIDnum", "CallerIDname",
    "CallerIDani", "CallerIDrdnis", "CallerIDdnid", "Exten", "Context", "Channel", "Application", "AppData",
    "EventTime", "AMAFlags", "UniqueID", "LinkedID", "Userfield", "Peer", "PeerAccount", "Extra",
)
AMI_EXTRA = {
    "Privilege": "call,all", "AccountCode": "", "CallerIDani": "", "CallerIDrdnis": "", "CallerIDdnid": "",
    "AMAFlags": "DOCUMENTATION", "Userfield": "", "PeerAccount": "",
}
STAFF = (("alice", "201", "Alice Aas"), ("bob", "202", "Bob Bergmann"), ("carol", "203", "Carol Kask"))
EPOCH = 1795443720


def rss() -> int:
    """Resident set size of this process, in bytes, after a full collection."""
    gc.collect()
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def mib(n: float) -> str:
    return f"{n / 2**20:.1f} MiB"


def calls(count: int, first: int = 0) -> Iterator[AmiMessage]:
    """The CEL events of `count` live calls, one call after another, 50 ms apart, as parsed
    from the wire."""
    template = [{k: Template(v) for k, v in event.items()} for event in parse_table(CALL)]
    for n in range(first, first + count):
        staff, ext, name = STAFF[n % len(STAFF)]
        values = {
            "cid": f"+3725{5_000_000 + n:07d}", "staff": staff, "ext": ext, "name": name,
            "caller_chan": f"PJSIP/carrier-{2 * n:08x}", "callee_chan": f"PJSIP/{staff}-{2 * n + 1:08x}",
            "uid0": f"{EPOCH}.{2 * n}", "uid1": f"{EPOCH}.{2 * n + 1}",
            "bridge": f"{n:08x}-42f5-4ad4-91a6-eeef61d65d3a",
        }
        shift = n * 0.05
        for event in template:
            out = {k: v.substitute(values) for k, v in event.items()}
            stamp = float(out["Timestamp"]) + shift
            out["Timestamp"] = f"{stamp:.6f}"
            out["EventTime"] = datetime.fromtimestamp(stamp, UTC).strftime("%Y-%m-%d %H:%M:%S")
            out.update(AMI_EXTRA)
            raw = "\r\n".join(f"{name}: {out[name]}" for name in AMI_HEADERS if name in out).encode()
            message = parse_frame(raw)
            assert message is not None
            yield message


def bench_settings(url: str = "sqlite:///:memory:") -> Settings:
    """The integration-test shop, with the benchmark's proxy pool and database."""
    base = test_settings()
    masking = Masking(pool=(fixture.PIN_PROXY, *fixture.UNIQUE_POOL), single_number_mode=True,
                      encryption_key=fixture.KEY)
    return base.model_copy(update={"masking": masking, "database": base.database.model_copy(update={"url": url})})


# -- scenarios, each in a fresh process ---------------------------------------------------------


def tracker_scenario(count: int) -> dict[str, Any]:
    tracker = CelTracker(bench_settings())
    events = calls(count)  # a generator: builds each event as it is fed, keeps none
    base = rss()
    for event in events:
        tracker.feed(dict(event.items()))
    after = rss()
    return {"baseline": base, "after": after, "live": len(tracker.live_calls()), "stats": dict(tracker.stats)}


def engine_scenario(url: str, sessions: int, count: int, resolutions: int) -> dict[str, Any]:
    from tugi.app import Engine

    with tempfile.TemporaryDirectory(prefix="tugi-bench-memory-") as folder:
        engine = Engine(bench_settings(url), data_dir=Path(folder))
        loop = asyncio.new_event_loop()
        out: dict[str, Any] = {"baseline": rss()}

        async def feed() -> None:
            for event in calls(count):
                await engine.recorder.on_event(event)

        loop.run_until_complete(feed())
        out["calls"] = rss()
        out["live"] = len(engine.recorder.tracker.live_calls())

        masking = engine.masking
        assert masking is not None
        layout = fixture.Layout(sessions)
        rng = random.Random(11)

        def resolve(n: int) -> float:
            started = time.perf_counter()
            for _ in range(n):
                plan = layout.session(rng.randrange(sessions))
                caller, other = (plan.customer, plan.courier) if rng.random() < 0.5 else (plan.courier, plan.customer)
                result = masking.resolve(caller, plan.proxy, plan.pin)
                if not (isinstance(result, Connect) and result.dial_number == other):
                    raise RuntimeError(f"wrong resolution {result!r} for session {plan.i}")
            return time.perf_counter() - started

        resolve(1000)
        out["resolved_1k"] = rss()
        out["seconds_10k"] = resolve(resolutions)
        out["resolved_a"] = rss()
        resolve(resolutions)
        out["resolved_b"] = rss()
        engine.engine.dispose()
        loop.close()
    return out


def traced_scenario(count: int, top: int = 12) -> dict[str, Any]:
    """Bytes tracemalloc sees held per live call, and the lines that allocated them."""
    tracemalloc.start()
    tracker = CelTracker(bench_settings())
    gc.collect()
    before = tracemalloc.take_snapshot()
    for event in calls(count):
        tracker.feed(dict(event.items()))
    gc.collect()
    after = tracemalloc.take_snapshot()
    stats = after.compare_to(before, "lineno")
    held = sum(s.size_diff for s in stats)
    lines = [
        (f"{Path(s.traceback[0].filename).name}:{s.traceback[0].lineno}", s.size_diff, s.count_diff)
        for s in stats[:top]
    ]

    async def nothing(record: Any) -> None:
        return None

    recorder = CallRecorder(CelTracker(bench_settings()), {}, nothing)
    loop = asyncio.new_event_loop()
    gc.collect()
    size0 = tracemalloc.get_traced_memory()[0]

    async def feed() -> None:
        for event in calls(count, first=count):
            await recorder.on_event(event)

    loop.run_until_complete(feed())
    gc.collect()
    recorder_held = tracemalloc.get_traced_memory()[0] - size0
    tracemalloc.stop()
    return {"tracker": held, "recorder": recorder_held, "lines": lines}


def load_scenario(url: str, sessions: int) -> str:
    from sqlalchemy import create_engine

    engine = create_engine(url)
    try:
        return fixture.load_sessions(engine, sessions).describe()
    finally:
        engine.dispose()


def in_child(function: Any, *args: Any) -> Any:
    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
        return pool.submit(function, *args).result()


def bare_interpreter() -> int:
    code = "print(next(l for l in open('/proc/self/status') if l.startswith('VmRSS')).split()[1])"
    return int(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout) * 1024


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=10_000)
    parser.add_argument("--sessions", type=int, default=1_000_000)
    parser.add_argument("--resolutions", type=int, default=10_000)
    parser.add_argument("--keep", action="store_true", help=f"keep the PostgreSQL database {PG_DATABASE}")
    parser.add_argument("--reuse", action="store_true", help="reuse a kept database with the same --sessions")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    print(f"bare python interpreter: {mib(bare_interpreter())}")

    t = in_child(tracker_scenario, args.calls)
    grown = t["after"] - t["baseline"]
    print(f"\nCelTracker alone: baseline (imports + one empty tracker) {mib(t['baseline'])}; "
          f"with {t['live']:,} live calls {mib(t['after'])}: +{mib(grown)}, "
          f"{grown / t['live']:,.0f} bytes per live call")

    traced = in_child(traced_scenario, args.calls)
    print(f"\ntracemalloc, {args.calls:,} live calls: CelTracker holds {traced['tracker'] / args.calls:,.0f} bytes "
          f"per call; through CallRecorder (tracker + raw events kept for the journal) "
          f"{traced['recorder'] / args.calls:,.0f} bytes per call")
    print("| line | bytes per call | objects per call |")
    print("|---|---|---|")
    for where, size, count in traced["lines"]:
        print(f"| {where} | {size / args.calls:,.0f} | {count / args.calls:.1f} |")

    url = fixture.pg_url(PG_DATABASE)
    reused = False
    if args.reuse and fixture.pg_database_exists(PG_DATABASE):
        from sqlalchemy import create_engine

        probe = create_engine(url)
        reused = fixture.loaded_sessions(probe) == args.sessions
        if reused:
            fixture.reset_to_layout(probe)
        probe.dispose()
    try:
        if reused:
            print(f"\nreusing {args.sessions:,} sessions in {PG_DATABASE}")
        else:
            fixture.create_pg_database(PG_DATABASE)
            print(f"\nPostgreSQL: {in_child(load_scenario, url, args.sessions)} (in a child process)")
        e = in_child(engine_scenario, url, args.sessions, args.calls, args.resolutions)
    finally:
        if not args.keep:
            fixture.drop_pg_database(PG_DATABASE)
    base = e["baseline"]
    per_call = (e["calls"] - base) / e["live"]
    print(f"\nTugi Engine (tugi.app.Engine built, nothing started), {args.sessions:,} sessions in PostgreSQL")
    print("| state | RSS | vs baseline |")
    print("|---|---|---|")
    rows = [
        ("baseline: imports + Engine built, nothing in it", e["baseline"]),
        (f"+ {e['live']:,} live calls through CallRecorder ({per_call:,.0f} bytes per call)", e["calls"]),
        ("+ 1,000 resolutions across the sessions (pool and statement caches warm)", e["resolved_1k"]),
        (f"+ {args.resolutions:,} more resolutions", e["resolved_a"]),
        (f"+ {args.resolutions:,} more resolutions", e["resolved_b"]),
    ]
    for label, value in rows:
        print(f"| {label} | {mib(value)} | {value / base:.2f} ({'+' if value >= base else ''}{mib(value - base)}) |")
    print(f"growth over the last {2 * args.resolutions:,} resolutions: "
          f"{(e['resolved_b'] - e['resolved_1k']) / 1024:+,.0f} KiB; "
          f"{args.resolutions:,} resolutions took {e['seconds_10k']:.1f} s")
    print(f"\ntotal {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
