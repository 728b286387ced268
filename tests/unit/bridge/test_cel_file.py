"""Reading Asterisk's CEL file from a time on: the rows from then, not the whole history."""

from __future__ import annotations

from pathlib import Path

from pbx_bridge.cel_csv import CSV_FIELDS, read_events
from pbx_bridge.cel_file import read_since


def _row(when: float, uniqueid: str, appdata: str = "") -> str:
    values = {name: "" for name in CSV_FIELDS}
    values.update(EventName="CHAN_START", EventTime=f"{when:.6f}", UniqueID=uniqueid, LinkedID=uniqueid,
                  Channel="PJSIP/bob-00000001", AppData=appdata)
    return ",".join(f'"{values[name]}"' for name in CSV_FIELDS) + "\n"


def _file(tmp_path: Path, rows: int, start: float = 1_700_000_000.0) -> Path:
    path = tmp_path / "Master.csv"
    with open(path, "w") as handle:
        for n in range(rows):
            # every 50th row carries a line break inside a quoted value, as Asterisk writes it
            handle.write(_row(start + n, f"{start + n:.0f}.{n}", "a\nb" if n % 50 == 7 else ""))
    return path


def test_only_rows_from_about_the_given_time_are_read(tmp_path: Path) -> None:
    path = _file(tmp_path, 20_000)
    since = 1_700_000_000.0 + 15_000
    lines = read_since(path, since)
    times = [float(e["EventTime"]) for e in read_events(lines)]
    assert times == sorted(times)
    assert since in times and times[-1] == 1_700_000_000.0 + 19_999
    assert len(times) < 6_000  # a few rows before `since` at most, never the whole file
    assert all(t >= since - 1_000 for t in times)


def test_the_whole_file_without_a_time_or_from_before_its_first_row(tmp_path: Path) -> None:
    path = _file(tmp_path, 3_000)
    assert len(list(read_events(read_since(path, None)))) == 3_000
    assert len(list(read_events(read_since(path, 1_000.0)))) == 3_000


def test_a_time_after_the_last_row_reads_at_most_the_tail(tmp_path: Path) -> None:
    path = _file(tmp_path, 20_000)
    assert len(list(read_events(read_since(path, 1_800_000_000.0)))) < 2_000


def test_times_that_are_not_epoch_seconds_mean_the_whole_file(tmp_path: Path) -> None:
    path = tmp_path / "Master.csv"
    path.write_text("".join(_row(0, f"1.{n}").replace('"0.000000"', '"2026-11-23 10:00:00"') for n in range(5_000)))
    assert len(list(read_events(read_since(path, 1_700_000_000.0)))) == 5_000
