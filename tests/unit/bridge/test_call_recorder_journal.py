"""The call recorder journals each finished call's raw events exactly as they arrived.

It keeps a live call's events compactly (header names shared between events); what reaches the
journal must still be the events themselves, field for field and in order.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from history.records import CallRecord
from pbx_bridge.call_recorder import TRACKED_EVENTS, CallRecorder
from pbx_bridge.cel_tracker import CelTracker
from tests.support.cel_capture import capture_settings
from tests.support.cel_table import load_table

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "cel"


@pytest.mark.parametrize("name", ["internal_answered", "attended_transfer", "hold_unhold", "two_simultaneous"])
async def test_journal_gets_every_raw_event_unchanged(name: str) -> None:
    events = load_table(FIXTURES / f"{name}.txt")
    journaled: dict[str, list[dict[str, Any]]] = {}
    records: list[CallRecord] = []

    async def journal(calls: list[tuple[str, list[dict[str, str]]]]) -> None:
        for linkedid, batch in calls:
            journaled.setdefault(linkedid, []).extend(batch)

    async def sink(finished: list[CallRecord]) -> None:
        records.extend(finished)

    recorder = CallRecorder(CelTracker(capture_settings()), {}, sink, journal=journal)
    for event in events:
        await recorder.on_event(dict(event))
    await recorder.drain(timeout=5)
    await recorder.stop()

    tracked = [e for e in events if e.get("Event") in TRACKED_EVENTS]
    assert records and set(journaled) == {r.linkedid for r in records}
    got = [e for batch in journaled.values() for e in batch]
    assert sorted(map(repr, got)) == sorted(map(repr, tracked))  # repr: same fields in the same order
    def linkedid(event: dict[str, Any]) -> str:
        return event.get("LinkedID") or event.get("Linkedid") or ""

    for batch in journaled.values():  # the events of each LinkedID in arrival order
        for group in {linkedid(e) for e in batch}:
            positions = [tracked.index(e) for e in batch if linkedid(e) == group]
            assert positions == sorted(positions)
    assert recorder._raw == {}
