"""Calls as CSV text for the back office's spreadsheets."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from history.records import Channel, Disposition
from history.store import HistoryStore

COLUMNS = (
    "id",
    "started_at",
    "answered_at",
    "ended_at",
    "channel",
    "disposition",
    "answered_by",
    "customer_id",
    "case_id",
    "order_ref",
    "page_ref",
    "caller_kind",
    "caller_ref",
    "caller_number",
    "callee_number",
    "queue_seconds",
    "wait_seconds",
    "talk_seconds",
    "transfers",
    "route",
    "targets_tried",
    "source",
    "erased",
)
_LIST_SEPARATOR = " > "
# A spreadsheet runs a cell starting with one of these as a formula; page refs and ids come
# from outside, so such a cell is quoted as text — unless it is just a (masked) number.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?[\d.•]+")


def calls_csv(
    store: HistoryStore,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    disposition: Disposition | str | None = None,
    staff: str | None = None,
    customer_id: str | None = None,
    channel: Channel | str | None = None,
    include_numbers: bool = False,
) -> str:
    """Every call matching the filters, newest first; numbers masked unless `include_numbers`."""
    calls = store.list_calls(
        since=since,
        until=until,
        disposition=disposition,
        staff=staff,
        customer_id=customer_id,
        channel=channel,
        limit=None,
        include_numbers=include_numbers,
    )
    return _to_csv(calls)


def _to_csv(calls: Iterable[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for call in calls:
        writer.writerow([_cell(call.get(column)) for column in COLUMNS])
    return out.getvalue()


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        value = _LIST_SEPARATOR.join(str(v) for v in value)
    if isinstance(value, float):
        return f"{value:.1f}"
    text = str(value)
    if text.startswith(_FORMULA_START) and not _PLAIN_NUMBER.fullmatch(text):
        return "'" + text
    return text
