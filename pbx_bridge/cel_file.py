"""Asterisk's CEL file read from a point in time on, not from its first line.

Master.csv only grows (Asterisk does not rotate it), so after months of calls a reconnect that
read it whole would parse every call the shop ever had before Tugi could go on. Rows are written
in time order, so the first row at a given time is found by bisecting byte offsets, and only the
rest of the file is read. A row whose time cannot be read (a `dateformat` other than Tugi's
epoch seconds) makes the search give up and read the whole file, as before.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path
from typing import BinaryIO

from pbx_bridge.cel_csv import CSV_FIELDS

_EVENT_TIME = CSV_FIELDS.index("EventTime")
_ROW_START = re.compile(rb'^"[A-Za-z][A-Za-z0-9_]*",')
_CLOSE_ENOUGH = 64 * 1024  # bisect down to this, then read a few rows too many rather than seek more


def read_since(path: Path, since: float | None) -> list[str]:
    """The file's lines from the first row at or after `since` (epoch seconds); all for None."""
    with open(path, "rb") as handle:
        size = handle.seek(0, 2)
        start = 0 if since is None else _offset_before(handle, size, since)
        handle.seek(start)
        return handle.read().decode("utf-8", "replace").splitlines()


def _offset_before(handle: BinaryIO, size: int, since: float) -> int:
    """A row start at most `_CLOSE_ENOUGH` before the first row at or after `since`."""
    low, high = 0, size
    while high - low > _CLOSE_ENOUGH:
        middle = (low + high) // 2
        found = _next_row(handle, middle)
        if found is None:
            high = middle
            continue
        offset, when = found
        if when is None:
            return 0  # times we cannot read: read everything
        if when < since:
            low = offset
        else:
            high = middle
    return _next_row_start(handle, low) if low else 0


def _next_row(handle: BinaryIO, offset: int) -> tuple[int, float | None] | None:
    """The first whole one-line row after `offset`: where it starts, and its time (None when
    the time is not epoch seconds); None past the last row."""
    position = offset
    while True:
        start = _next_row_start(handle, position)
        handle.seek(start)
        line = handle.readline()
        if not line:
            return None
        row = next(csv.reader([line.decode("utf-8", "replace").rstrip("\r\n")]), [])
        if len(row) == len(CSV_FIELDS):
            try:
                return start, float(row[_EVENT_TIME])
            except ValueError:
                return start, None
        position = start + 1  # a row with a line break in a value: try the next one


def _next_row_start(handle: BinaryIO, offset: int) -> int:
    handle.seek(offset)
    if offset:
        handle.readline()  # the rest of a line cut in the middle
    while True:
        position = handle.tell()
        line = handle.readline()
        if not line or _ROW_START.match(line):
            return position
