"""CEL traces as readable fixed-width ASCII tables, in the style of wazo-call-logd's scenario tests.

One row per event, in the order Asterisk sent them::

    eventname    | eventtime                  | cid_num | ... | extra
    -------------+----------------------------+---------+-----+------
    CHAN_START   | 2026-11-23 14:20:01.123456 | 201     | ... |

Columns (the AMI `CEL` event field each one holds):

    eventname EventName   eventtime EventTime   timestamp Timestamp (the AMI header, epoch)
    cid_num  CallerIDnum  cid_name CallerIDname
    exten     Exten       context   Context     channame Channel      appname  Application
    appdata   AppData     uniqueid  UniqueID    linkedid LinkedID     peer     Peer
    extra     Extra

Rows that are not CEL events:

* a user-defined event (`CELGenUserEvent`) is written with its own name in `eventname`
  (what cel_custom's `eventtype` holds) and read back as `EventName: USER_DEFINED` plus
  `UserDefType: <name>`, as cel_manager sends it with `show_user_defined=yes`;
* the AMI `Hold` and `Unhold` events (CEL has no hold event) are written as `HOLD`/`UNHOLD`
  with their `Timestamp` header (and, for the eye, that time in UTC as `eventtime`), and read
  back as `{"Event": "Hold"|"Unhold", "Timestamp": "<epoch>", "Uniqueid": ..., ...}`.

Cells are escaped so any value survives the round trip: backslash, `|`, control characters,
anything outside printable ASCII, and a leading or trailing space are written as `\\\\`, `\\|`,
`\\n`, `\\xHH`, `\\uHHHH` or `\\x20`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path

COLUMNS: tuple[tuple[str, str], ...] = (
    ("eventname", "EventName"),
    ("eventtime", "EventTime"),
    ("timestamp", "Timestamp"),
    ("cid_num", "CallerIDnum"),
    ("cid_name", "CallerIDname"),
    ("exten", "Exten"),
    ("context", "Context"),
    ("channame", "Channel"),
    ("appname", "Application"),
    ("appdata", "AppData"),
    ("uniqueid", "UniqueID"),
    ("linkedid", "LinkedID"),
    ("peer", "Peer"),
    ("extra", "Extra"),
)

# CEL event names Asterisk itself raises; anything else in `eventname` is a user-defined event.
STANDARD_EVENTS = frozenset(
    {
        "CHAN_START", "CHAN_END", "ANSWER", "HANGUP", "APP_START", "APP_END", "PARK_START",
        "PARK_END", "USER_DEFINED", "BRIDGE_ENTER", "BRIDGE_EXIT", "BLINDTRANSFER",
        "ATTENDEDTRANSFER", "PICKUP", "FORWARD", "LINKEDID_END", "LOCAL_OPTIMIZE",
        "LOCAL_OPTIMIZE_BEGIN", "STREAM_BEGIN", "STREAM_END", "DTMF",
    }
)
AMI_ROWS = {"HOLD": "Hold", "UNHOLD": "Unhold"}
# The AMI Hold/Unhold field each table column holds (their names differ from CEL's).
_AMI_FIELDS = {
    "cid_num": "CallerIDNum",
    "cid_name": "CallerIDName",
    "exten": "Exten",
    "context": "Context",
    "channame": "Channel",
    "uniqueid": "Uniqueid",
    "linkedid": "Linkedid",
    "timestamp": "Timestamp",
}

_TIME_FORMAT = "%Y-%m-%d %H:%M:%S.%f"


def _get(event: Mapping[str, str], name: str) -> str:
    """A field by name, whatever its case (panoramisk messages keep Asterisk's spelling)."""
    if name in event:
        return str(event[name])
    lowered = name.lower()
    for key, value in event.items():
        if key.lower() == lowered:
            return str(value)
    return ""


def escape(value: str) -> str:
    out = []
    for ch in value:
        code = ord(ch)
        if ch == "\\":
            out.append("\\\\")
        elif ch == "|":
            out.append("\\|")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\x{code:02x}")
        elif code > 0x7E:
            out.append(f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}")
        else:
            out.append(ch)
    text = "".join(out)
    if text.startswith(" "):
        text = "\\x20" + text[1:]
    if text.endswith(" "):
        text = text[:-1] + "\\x20"
    return text


_UNESCAPE = re.compile(r"\\(x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|.)")
_SIMPLE = {"\\": "\\", "|": "|", "n": "\n", "r": "\r", "t": "\t"}


def unescape(text: str) -> str:
    def one(match: re.Match[str]) -> str:
        token = match.group(1)
        if token[0] in "xuU" and len(token) > 1:
            return chr(int(token[1:], 16))
        return _SIMPLE.get(token, token)

    return _UNESCAPE.sub(one, text)


def _split_row(line: str) -> list[str]:
    """Split on `|` not preceded by an escaping backslash."""
    cells, current, i = [], [], 0
    while i < len(line):
        ch = line[i]
        if ch == "\\" and i + 1 < len(line):
            current.append(line[i : i + 2])
            i += 2
            continue
        if ch == "|":
            cells.append("".join(current))
            current = []
        else:
            current.append(ch)
        i += 1
    cells.append("".join(current))
    return cells


def _row_of(event: Mapping[str, str]) -> list[str]:
    kind = _get(event, "Event")
    if kind in ("Hold", "Unhold"):
        stamp = _get(event, "Timestamp")
        try:
            when = datetime.fromtimestamp(float(stamp), UTC).strftime(_TIME_FORMAT)
        except ValueError:
            when = stamp
        row = []
        for column, _ in COLUMNS:
            if column == "eventname":
                row.append(kind.upper())
            elif column == "eventtime":
                row.append(when)
            else:
                row.append(_get(event, _AMI_FIELDS.get(column, column)))
        return row
    row = [_get(event, field) for _, field in COLUMNS]
    if row[0] == "USER_DEFINED" and _get(event, "UserDefType"):
        row[0] = _get(event, "UserDefType")
    return row


def format_table(events: Iterable[Mapping[str, str]]) -> str:
    """Render events (AMI CEL, Hold and Unhold messages as dicts) as a fixed-width table."""
    rows = [[escape(cell) for cell in _row_of(event)] for event in events]
    header = [name for name, _ in COLUMNS]
    widths = [max([len(header[i])] + [len(r[i]) for r in rows]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        return " | ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True)).rstrip()

    out = [line(header), "-+-".join("-" * w for w in widths)]
    out += [line(row) for row in rows]
    return "\n".join(out) + "\n"


def parse_table(text: str) -> list[dict[str, str]]:
    """Turn a table back into event dicts with AMI field names (see the module docstring)."""
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    if not lines:
        return []
    header = [cell.strip() for cell in _split_row(lines[0])]
    known = dict(COLUMNS)
    unknown = [name for name in header if name not in known]
    if unknown:
        raise ValueError(f"unknown column(s) {unknown}; expected some of {list(known)}")
    events = []
    for number, raw in enumerate(lines[1:], start=2):
        if set(raw.strip()) <= {"-", "+", " "}:
            continue
        cells = [unescape(cell.strip()) for cell in _split_row(raw)]
        if len(cells) != len(header):
            raise ValueError(f"line {number}: {len(cells)} cells, the header has {len(header)}")
        values = dict(zip(header, cells, strict=True))
        name = values.get("eventname", "")
        if name in AMI_ROWS:
            event = {"Event": AMI_ROWS[name]}
            for column, value in values.items():
                if column in _AMI_FIELDS:
                    event[_AMI_FIELDS[column]] = value
            if not values.get("timestamp"):
                when = values.get("eventtime", "")
                try:
                    stamp = datetime.strptime(when, _TIME_FORMAT).replace(tzinfo=UTC).timestamp()
                    event["Timestamp"] = f"{stamp:.6f}"
                except ValueError:
                    event["Timestamp"] = when
            events.append(event)
            continue
        event = {"Event": "CEL"}
        for column, value in values.items():
            event[known[column]] = value
        if name and name not in STANDARD_EVENTS:
            event["EventName"] = "USER_DEFINED"
            event["UserDefType"] = name
        events.append(event)
    return events


def load_table(path: str | Path) -> list[dict[str, str]]:
    return parse_table(Path(path).read_text(encoding="ascii"))
