"""Call setup time under load: Tugi's FastAGI routing in the path vs a static dialplan.

sipp places browser-like calls (INVITE with a call token) to named staff through a real
Asterisk 22. Path "tugi": the call enters Tugi's web-call context, Tugi checks the token and
decides the route over FastAGI, Asterisk dials the person. Path "static" (the baseline): the
same entry steps, then Dial of the same person with no question asked. The staff phones are
one sipp UAS that answers at once, so setup time (INVITE sent → 200 OK received) is the
PBX's and Tugi's own work. Levels step up the number of calls in progress until calls fail
or setup time runs away.

Run: python -m bench.call_setup [--levels 100,200,300] [--hold-ms 2000]
"""

from __future__ import annotations

import argparse
import csv
import statistics
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from bench.pbx_stack import CALLER_PORT, SIP_PORT, STATIC_CALLER_IP, TUGI_CALLER_IP, Stack, agent_ids, running_stack
from bench.sip_wire import capture, setup_times_ms

SCENARIO = Path(__file__).with_name("sipp") / "web_call.xml"
PATHS = {"static": STATIC_CALLER_IP, "tugi": TUGI_CALLER_IP}


@dataclass
class Run:
    path: str
    concurrency: int
    calls: int
    succeeded: int
    failed: int
    setup_ms: list[float]
    cpu: dict[str, float]
    wall: float

    def percentile(self, q: int) -> float:
        if len(self.setup_ms) < 2:
            return float("nan")
        return statistics.quantiles(self.setup_ms, n=100)[q - 1]


def write_calls(stack: Stack, folder: Path, agents: list[str]) -> Path:
    path = folder / "calls.csv"
    rows = [f"{agent};{token}" for agent, token in zip(agents, stack.tokens(agents), strict=True)]
    path.write_text("SEQUENTIAL\n" + "\n".join(rows) + "\n")
    return path


def place_calls(stack: Stack, path: str, concurrency: int, hold_ms: int, calls_csv: Path) -> Run:
    folder = stack.workdir / f"{path}-{concurrency}"
    folder.mkdir()
    calls = concurrency * 5
    # Calls in progress ≈ rate × hold, so this rate keeps `concurrency` calls up at steady state.
    rate = max(1, round(concurrency * 1000 / hold_ms))
    wire = folder / "caller.pcap"
    with capture(wire, CALLER_PORT):
        before = stack.cpu_seconds()
        started = time.monotonic()
        result = subprocess.run(
            ["sipp", f"127.0.0.1:{SIP_PORT}", "-sf", str(SCENARIO), "-inf", str(calls_csv),
             "-i", PATHS[path], "-p", str(CALLER_PORT), "-m", str(calls), "-l", str(concurrency * 2),
             "-r", str(rate), "-d", str(hold_ms), "-trace_stat", "-fd", "1",
             "-nostdin", "-timeout", str(60 + calls // max(rate, 1) * 3), "-timeout_error",
             "-max_socket", "10000", "-recv_timeout", "30000"],
            cwd=folder, capture_output=True, text=True,
        )
        wall = time.monotonic() - started
        after = stack.cpu_seconds()
    setup = setup_times_ms(wire)
    succeeded, failed = _outcome(folder)
    if succeeded + failed == 0:
        raise RuntimeError(f"sipp ran no call ({result.returncode}): {result.stderr[-2000:]}")
    return Run(path, concurrency, calls, succeeded, failed, setup,
               {k: after[k] - before[k] for k in after}, wall)


def _outcome(folder: Path) -> tuple[int, int]:
    (stat,) = folder.glob("*.csv")
    last = _stat_rows(stat)[-1]
    return int(last["SuccessfulCall(C)"]), int(last["FailedCall(C)"])


def _stat_rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle, delimiter=";"))


def report(runs: list[Run]) -> None:
    print(f"\n{'path':7} {'in progress':>11} {'calls':>6} {'failed':>6} {'p50 ms':>8} {'p99 ms':>8} "
          f"{'p50 ×':>6} {'p99 ×':>6} {'Tugi CPU s':>10} {'Asterisk CPU s':>14} {'Tugi share':>10}")
    baseline = {r.concurrency: r for r in runs if r.path == "static"}
    for run in runs:
        base = baseline.get(run.concurrency)
        p50, p99 = statistics.median(run.setup_ms) if run.setup_ms else float("nan"), run.percentile(99)
        r50 = p50 / statistics.median(base.setup_ms) if base and base.setup_ms else float("nan")
        r99 = p99 / base.percentile(99) if base else float("nan")
        tugi, pbx = run.cpu["tugi"], run.cpu["asterisk"]
        share = tugi / (tugi + pbx) if tugi + pbx else 0.0
        print(f"{run.path:7} {run.concurrency:>11} {run.calls:>6} {run.failed:>6} {p50:>8.2f} {p99:>8.2f} "
              f"{r50:>6.2f} {r99:>6.2f} {tugi:>10.2f} {pbx:>14.2f} {share:>10.1%}")
    print("\nTugi CPU s / Asterisk CPU s: CPU time of `tugi run` and of Asterisk during the run "
          "(the sipp phone bank and caller not counted).")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--levels", default="100,200,300", help="calls in progress, comma-separated")
    parser.add_argument("--hold-ms", type=int, default=2000, help="how long each answered call lasts")
    parser.add_argument("--keep", action="store_true", help="keep the run folders (sipp traces, logs)")
    args = parser.parse_args()
    levels = [int(x) for x in args.levels.split(",")]
    # Twice the highest level of staff, so a named person is never still on the previous call.
    agents = agent_ids(max(levels) * 2)
    runs: list[Run] = []
    with running_stack(agents=len(agents), keep=args.keep) as stack:
        calls_csv = write_calls(stack, stack.workdir, agents)
        print(f"stack up: {len(agents)} staff phones, work folder {stack.workdir}")
        for level in levels:
            for path in ("static", "tugi"):
                run = place_calls(stack, path, level, args.hold_ms, calls_csv)
                print(f"{path} at {level}: {run.succeeded} ok, {run.failed} failed, "
                      f"p50 {statistics.median(run.setup_ms) if run.setup_ms else float('nan'):.2f} ms "
                      f"in {run.wall:.1f} s", flush=True)
                runs.append(run)
                time.sleep(3)  # let the last BYEs and CEL settle before the next run
    report(runs)


if __name__ == "__main__":
    main()
