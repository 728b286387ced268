"""CEL rows from cel_custom's CSV file, as the same event dicts the AMI `CEL` event gives.

After an AMI outage the live tracker has missed events; Asterisk kept writing them to
<astlogdir>/cel-custom/Master.csv (dialplans/templates/cel_custom.conf.j2). This module reads
that file back into dicts keyed like cel_manager's AMI event, so `CelTracker` rebuilds the
records of the calls that ended meanwhile; the history drops those it already has (a record's
`uniqueids` are the dedupe key).

The column order is `CSV_FIELDS` and must match the template's mapping line (a unit test checks
it). Pure: the caller opens the file and passes its lines; nothing here does I/O.

Differences from the AMI event, and how they are smoothed out:

* a user-defined event has its own name in the first column (cel_custom's `eventtype`) and in
  `UserDefType`; it comes back as `EventName: USER_DEFINED` plus `UserDefType`, as cel_manager
  sends it with `show_user_defined=yes`;
* `EventTime` follows cel.conf's `dateformat` (Tugi renders none: "<epoch>.<usec>", exact and
  free of time zones), while the AMI one is always local "%Y-%m-%d %H:%M:%S";
* `AMAFlags` is a number here and a word on AMI; the tracker reads neither.

A row that is cut short (the file is being written), has the wrong number of columns, or is not
CSV is counted in `errors` and skipped; it never raises.
"""

from __future__ import annotations

import csv
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, tzinfo

from config.schema import Settings
from history.records import CallRecord

CSV_FIELDS: tuple[str, ...] = (
    "EventName",
    "AccountCode",
    "CallerIDnum",
    "CallerIDname",
    "CallerIDani",
    "CallerIDrdnis",
    "CallerIDdnid",
    "Exten",
    "Context",
    "Channel",
    "Application",
    "AppData",
    "EventTime",
    "AMAFlags",
    "UniqueID",
    "LinkedID",
    "Userfield",
    "Peer",
    "PeerAccount",
    "UserDefType",
    "Extra",
)

# How every row Asterisk writes begins: the quoted event name, then the next field.
_ROW_START = re.compile(r'^"[A-Za-z][A-Za-z0-9_]*",')

# The cel_custom expression that writes each field (the template's mapping, in order).
CSV_EXPRESSIONS: dict[str, str] = {
    "EventName": "${eventtype}",
    "AccountCode": "${CHANNEL(accountcode)}",
    "CallerIDnum": "${CALLERID(num)}",
    "CallerIDname": "${CALLERID(name)}",
    "CallerIDani": "${CALLERID(ANI)}",
    "CallerIDrdnis": "${CALLERID(RDNIS)}",
    "CallerIDdnid": "${CALLERID(DNID)}",
    "Exten": "${CHANNEL(exten)}",
    "Context": "${CHANNEL(context)}",
    "Channel": "${CHANNEL(channame)}",
    "Application": "${CHANNEL(appname)}",
    "AppData": "${CHANNEL(appdata)}",
    "EventTime": "${eventtime}",
    "AMAFlags": "${CHANNEL(amaflags)}",
    "UniqueID": "${CHANNEL(uniqueid)}",
    "LinkedID": "${CHANNEL(linkedid)}",
    "Userfield": "${CHANNEL(userfield)}",
    "Peer": "${BRIDGEPEER}",
    "PeerAccount": "${CHANNEL(peeraccount)}",
    "UserDefType": "${userdeftype}",
    "Extra": "${eventextra}",
}


def mapping_line(filename: str = "Master.csv") -> str:
    """The cel_custom.conf [mappings] line that writes `CSV_FIELDS`."""
    return f"{filename} => " + ",".join(f"${{CSV_QUOTE({CSV_EXPRESSIONS[name]})}}" for name in CSV_FIELDS)


def event_from_row(row: list[str]) -> dict[str, str] | None:
    """One CSV row (already split) as an AMI-style CEL event dict; None if it has the wrong shape."""
    if len(row) != len(CSV_FIELDS):
        return None
    event = {"Event": "CEL"}
    event.update(zip(CSV_FIELDS, row, strict=True))
    if event["UserDefType"]:
        event["EventName"] = "USER_DEFINED"
    if not event["EventName"] or not event["UniqueID"]:
        return None
    return event


def read_events(lines: Iterable[str], errors: Counter[str] | None = None) -> Iterator[dict[str, str]]:
    """Event dicts from the file's lines (with or without line ends), in file order.

    A quoted field may span lines (a value with a line break in it) until a line that starts a
    new row; a row still open when the lines run out is the one Asterisk is writing and is left
    out (counted as "unfinished").
    """
    errors = errors if errors is not None else Counter()
    pending = ""
    for line in lines:
        line = line if line.endswith("\n") else line + "\n"
        if pending and _ROW_START.match(line):
            errors["malformed"] += 1      # an unbalanced quote must not swallow the rows after it
            pending = ""
        pending += line
        if pending.count('"') % 2:
            continue                      # inside a quoted field: the row goes on
        text, pending = pending, ""
        if not text.strip():
            continue
        try:
            rows = list(csv.reader([text.rstrip("\r\n")], strict=True))
        except csv.Error:
            errors["malformed"] += 1
            continue
        event = event_from_row(rows[0]) if len(rows) == 1 else None
        if event is None:
            errors["malformed"] += 1
            continue
        yield event
    if pending.strip():
        errors["unfinished"] += 1


def rebuild_records(
    settings: Settings,
    lines: Iterable[str],
    *,
    since: datetime | None = None,
    pbx_timezone: tzinfo = UTC,
    include_unfinished: bool = False,
    source: str = "reconciliation",
) -> list[CallRecord]:
    """Records of the calls in the file, oldest first: those that ended at or after `since`.

    Calls still going at the end of the file are left to the live tracker unless
    `include_unfinished` (then they end at their last event, flagged `extra["partial"]`).
    """
    from pbx_bridge.cel_tracker import CelTracker

    tracker = CelTracker(settings, source=source, pbx_timezone=pbx_timezone)
    records: list[CallRecord] = []
    for event in read_events(lines):
        records += tracker.feed(event)
    records += tracker.flush(force=include_unfinished)
    if since is not None:
        records = [r for r in records if r.ended_at >= since]
    return sorted(records, key=lambda r: (r.started_at, r.linkedid))


__all__ = ["CSV_FIELDS", "event_from_row", "mapping_line", "read_events", "rebuild_records"]
