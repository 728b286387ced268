"""Every benchmark still runs end to end, on inputs small enough for the suite.

These check that each script works and prints its comparison; the figures themselves belong
in BENCHMARKS.md, never in an assertion.
"""

from __future__ import annotations

import gzip
import subprocess
import sys
from pathlib import Path

import pytest

from bench.ami_capture import DEFAULT_OUT
from pbx_bridge.ami_protocol import FRAME_END

ROOT = Path(__file__).resolve().parents[2]


def bench(*args: str, timeout: float = 240) -> str:
    result = subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True,
                            timeout=timeout)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    return result.stdout


def test_ami_ingestion_replays_a_recorded_stream(tmp_path: Path) -> None:
    stream = gzip.decompress(DEFAULT_OUT.read_bytes())
    cut = stream.index(FRAME_END, len(stream) // 20) + len(FRAME_END)  # the first twentieth
    fixture = tmp_path / "slice.ami.gz"
    fixture.write_bytes(gzip.compress(stream[:cut]))
    out = bench("bench.ami_ingestion", "--rounds", "1", "--fixture", str(fixture))
    assert "panoramisk Manager, catch-all callback (baseline)" in out
    assert "Tugi: and every record stored in SQLite" in out


def test_agi_decision_compares_with_a_do_nothing_handler() -> None:
    out = bench("bench.agi_decision")
    assert "baseline FastAGI round trip" in out and "web call, token checked" in out


def test_history_writes_compares_with_a_batched_insert() -> None:
    out = bench("bench.history_writes", "--calls", "60", "--rounds", "1", "--backend", "sqlite")
    assert "| SQLite |" in out


def test_presence_fanout_reaches_every_socket() -> None:
    out = bench("bench.presence_fanout", "--sockets", "40", "--rounds", "2", "--warmup", "1", "--clients", "1")
    assert "80/80" in out  # 40 sockets × 2 changes, for Tugi and for the baseline


def test_masking_scale_on_sqlite() -> None:
    out = bench("bench.masking_scale", "--sqlite-sessions", "3000", "--lookups", "50", "--couriers", "2",
                "--skip-postgres")
    assert "MaskingService.resolve" in out and "PoolExhausted" in out


@pytest.mark.postgres
def test_memory_with_sessions_in_postgresql() -> None:
    out = bench("bench.memory", "--calls", "200", "--sessions", "2000", "--resolutions", "100")
    assert "bytes per live call" in out


def test_call_setup_places_calls_through_both_paths() -> None:
    out = bench("bench.call_setup", "--levels", "4", "--hold-ms", "500")
    rows = [row for row in map(str.split, out.splitlines())
            if row and row[0] in ("static", "tugi") and row[1].isdigit()]  # the table, not the progress lines
    assert {row[0] for row in rows} == {"static", "tugi"}
    assert all(row[3] == "0" for row in rows), out  # calls, then failed


def test_ami_capture_records_both_streams(tmp_path: Path) -> None:
    ours, raw = tmp_path / "ours.ami.gz", tmp_path / "raw.ami.gz"
    bench("bench.ami_capture", "--calls", "10", "--out", str(ours), "--unfiltered-out", str(raw))
    kept, everything = gzip.decompress(ours.read_bytes()), gzip.decompress(raw.read_bytes())
    assert b"Event: CEL\r\n" in kept and b"Event: Newchannel\r\n" not in kept
    assert b"Event: Newchannel\r\n" in everything
