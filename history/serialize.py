"""CallRecord <-> JSON, for the writer's on-disk spool (and anything else that must park a record)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from history.records import CallRecord, Channel, Disposition, LegRecord, PartyKind

FORMAT_VERSION = 1


def record_to_dict(record: CallRecord) -> dict[str, Any]:
    return {
        "v": FORMAT_VERSION,
        "linkedid": record.linkedid,
        "channel": record.channel.value,
        "started_at": record.started_at.isoformat(),
        "ended_at": record.ended_at.isoformat(),
        "disposition": record.disposition.value,
        "legs": [_leg_to_dict(leg) for leg in record.legs],
        "answered_at": _time_out(record.answered_at),
        "answered_by": record.answered_by,
        "caller_kind": record.caller_kind.value,
        "caller_ref": record.caller_ref,
        "caller_number": record.caller_number,
        "callee_number": record.callee_number,
        "customer_id": record.customer_id,
        "case_ref": record.case_ref,
        "order_ref": record.order_ref,
        "page_ref": record.page_ref,
        "route": list(record.route),
        "targets_tried": list(record.targets_tried),
        "queue_seconds": record.queue_seconds,
        "transfers": record.transfers,
        "uniqueids": list(record.uniqueids),
        "source": record.source,
        "extra": dict(record.extra),
    }


def record_from_dict(data: dict[str, Any]) -> CallRecord:
    version = data.get("v", FORMAT_VERSION)
    if version != FORMAT_VERSION:
        raise ValueError(f"call record format version {version} is not supported (expected {FORMAT_VERSION})")
    return CallRecord(
        linkedid=data["linkedid"],
        channel=Channel(data["channel"]),
        started_at=_time_in(data["started_at"]),
        ended_at=_time_in(data["ended_at"]),
        disposition=Disposition(data["disposition"]),
        legs=tuple(_leg_from_dict(leg) for leg in data.get("legs", ())),
        answered_at=_optional_time_in(data.get("answered_at")),
        answered_by=data.get("answered_by"),
        caller_kind=PartyKind(data.get("caller_kind", PartyKind.UNKNOWN.value)),
        caller_ref=data.get("caller_ref"),
        caller_number=data.get("caller_number"),
        callee_number=data.get("callee_number"),
        customer_id=data.get("customer_id"),
        case_ref=data.get("case_ref"),
        order_ref=data.get("order_ref"),
        page_ref=data.get("page_ref"),
        route=tuple(data.get("route", ())),
        targets_tried=tuple(data.get("targets_tried", ())),
        queue_seconds=float(data.get("queue_seconds", 0.0)),
        transfers=int(data.get("transfers", 0)),
        uniqueids=tuple(data.get("uniqueids", ())),
        source=data.get("source", "ami"),
        extra=dict(data.get("extra", {})),
    )


def dumps(record: CallRecord) -> str:
    return json.dumps(record_to_dict(record), ensure_ascii=False, separators=(",", ":"))


def loads(text: str) -> CallRecord:
    return record_from_dict(json.loads(text))


def _leg_to_dict(leg: LegRecord) -> dict[str, Any]:
    return {
        "uniqueid": leg.uniqueid,
        "party_kind": leg.party_kind.value,
        "party_ref": leg.party_ref,
        "started_at": leg.started_at.isoformat(),
        "ended_at": leg.ended_at.isoformat(),
        "answered_at": _time_out(leg.answered_at),
        "outcome": leg.outcome,
        "hangup_cause": leg.hangup_cause,
        "is_caller": leg.is_caller,
        "transferred_to": leg.transferred_to,
        "hold_seconds": leg.hold_seconds,
    }


def _leg_from_dict(data: dict[str, Any]) -> LegRecord:
    return LegRecord(
        uniqueid=data["uniqueid"],
        party_kind=PartyKind(data["party_kind"]),
        party_ref=data.get("party_ref"),
        started_at=_time_in(data["started_at"]),
        ended_at=_time_in(data["ended_at"]),
        answered_at=_optional_time_in(data.get("answered_at")),
        outcome=data.get("outcome", ""),
        hangup_cause=data.get("hangup_cause"),
        is_caller=bool(data.get("is_caller", False)),
        transferred_to=data.get("transferred_to"),
        hold_seconds=float(data.get("hold_seconds", 0.0)),
    )


def _time_out(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _time_in(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        raise ValueError(f"time {text!r} has no UTC offset")
    return value


def _optional_time_in(text: str | None) -> datetime | None:
    return None if text is None else _time_in(text)
