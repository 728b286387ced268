"""From Asterisk's events to stored records: tracker in, Tugi's routing notes merged, writer out.

The tracker knows what happened on the channels; the route handler knows why (the kind of
call, the page and order it came from, the steps tried, a refusal). A record is complete only
with both, so they meet here, once per finished call.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import sys
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol

from history.records import CallRecord, Channel, Disposition, PartyKind
from pbx_bridge.cel_csv import read_events
from pbx_bridge.route_handler import CallNote

log = logging.getLogger(__name__)

TRACKED_EVENTS = frozenset({"CEL", "Hold", "Unhold"})
# Distinct header lists remembered for the raw-event buffer; AMI sends a handful, so this only
# bounds a misbehaving stream.
_MAX_SHAPES = 256

_CHANNEL_OF_KIND = {
    "web": Channel.WEB,
    "callback": Channel.CALLBACK,
    "inbound": Channel.PHONE,
    "masked": Channel.MASKED,
    "internal": Channel.INTERNAL,
    "outbound": Channel.OUTBOUND,
}
_PARTY_OF_ROLE = {"customer": PartyKind.CUSTOMER, "courier": PartyKind.COURIER}


class Tracker(Protocol):
    def feed(self, event: Mapping[str, str]) -> list[CallRecord]: ...


# Both take every call that finished meanwhile at once: one fsync, one transaction for them all.
Sink = Callable[[list[CallRecord]], Awaitable[None]]
Journal = Callable[[list[tuple[str, list[dict[str, str]]]]], Awaitable[None]]
MAX_BATCH = 50


def annotate(record: CallRecord, notes: Mapping[str, CallNote]) -> CallRecord:
    """Merge what Tugi decided for this call (if it decided anything) into its record."""
    note = next((notes[u] for u in record.uniqueids if u in notes), None)
    if note is None:
        return record
    changes: dict[str, Any] = {
        "page_ref": record.page_ref or note.page_ref,
        "order_ref": record.order_ref or note.order_ref,
        "case_ref": record.case_ref or note.case_ref,
        "route": tuple(note.route) or record.route,
        "targets_tried": tuple(note.targets_tried) or record.targets_tried,
    }
    if note.kind in _CHANNEL_OF_KIND:
        changes["channel"] = _CHANNEL_OF_KIND[note.kind]
    if note.refused and record.disposition is not Disposition.ANSWERED:
        changes["disposition"] = Disposition.REFUSED
        changes["extra"] = {**record.extra, "refused": note.refused}
    if note.caller_role in _PARTY_OF_ROLE:
        changes["caller_kind"] = _PARTY_OF_ROLE[note.caller_role]
        changes["caller_ref"] = note.caller_ref
    if note.masking_session:
        changes["extra"] = {**changes.get("extra", record.extra), "masking_session": note.masking_session,
                            "callee_ref": note.callee_ref or ""}
    return dataclasses.replace(record, **changes)


class CallRecorder:
    def __init__(
        self,
        tracker: Tracker,
        notes: Mapping[str, CallNote],
        sink: Sink,
        journal: Journal | None = None,
    ) -> None:
        self.tracker = tracker
        self.notes = notes
        self.sink = sink
        self.journal = journal
        # The raw events of each live call, kept until it ends, for the journal: as (header
        # names, values), the names tuple shared by every event with those headers. A dict per
        # event held its two dozen names and a hash table for each: twice the size of the tuples.
        self._raw: dict[str, list[tuple[tuple[str, ...], tuple[str, ...]]]] = {}
        self._shapes: dict[tuple[str, ...], tuple[str, ...]] = {}
        self.recorded = 0
        self._finished: asyncio.Queue[CallRecord] = asyncio.Queue()
        self._finisher: asyncio.Task[None] | None = None

    async def on_event(self, event: Mapping[str, str]) -> None:
        if event.get("Event") not in TRACKED_EVENTS:
            return
        fields = {k: v for k, v in event.items() if isinstance(v, str)}
        linkedid = fields.get("LinkedID") or fields.get("Linkedid") or fields.get("Uniqueid", "")
        self._keep(linkedid, fields)
        try:
            finished = self.tracker.feed(fields)
        except Exception:
            log.exception("call tracker failed on a %s event; skipped", fields.get("EventName", "?"))
            return
        for record in finished:
            self._hand_off(record)

    def _hand_off(self, record: CallRecord) -> None:
        """Store a finished call in the background, in order: the event dispatcher must not
        wait for the disk (the journal and the spool), or every event behind it waits too."""
        if self._finisher is None:
            self._finisher = asyncio.create_task(self._finish_in_order(), name="call-recorder")
        self._finished.put_nowait(record)

    async def _finish_in_order(self) -> None:
        while True:
            batch = [await self._finished.get()]
            while len(batch) < MAX_BATCH and not self._finished.empty():
                batch.append(self._finished.get_nowait())
            try:
                await self.finish(batch)
            except Exception:
                log.exception("could not hand %d finished calls to the history writer", len(batch))
            finally:
                for _ in batch:
                    self._finished.task_done()

    async def drain(self, timeout: float | None = None) -> None:
        """Wait until every call finished so far is handed to the sink."""
        await asyncio.wait_for(self._finished.join(), timeout)

    async def stop(self, timeout: float = 5.0) -> None:
        with contextlib.suppress(TimeoutError):
            await self.drain(timeout)
        if self._finisher is not None:
            self._finisher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._finisher
            self._finisher = None

    def _keep(self, linkedid: str, fields: dict[str, str]) -> None:
        names = tuple(fields)
        shape = self._shapes.get(names)
        if shape is None:
            # The AMI parser makes new name strings for every event; interned, each is held once.
            shape = tuple(sys.intern(name) for name in names)
            if len(self._shapes) < _MAX_SHAPES:
                self._shapes[shape] = shape
        self._raw.setdefault(linkedid, []).append((shape, tuple(fields.values())))

    async def finish(self, records: list[CallRecord]) -> None:
        """Journal the raw events of these finished calls, then hand their records on, in order."""
        records = [annotate(record, self.notes) for record in records]
        entries = []
        for record in records:
            events = []
            for uniqueid in {record.linkedid, *record.uniqueids}:
                events += [dict(zip(names, values, strict=True)) for names, values in self._raw.pop(uniqueid, [])]
            if events:
                entries.append((record.linkedid, events))
        if self.journal is not None and entries:
            try:
                await self.journal(entries)
            except Exception:
                log.warning("could not journal the events of %d calls", len(entries), exc_info=True)
        await self.sink(records)
        self.recorded += len(records)


class Reconciler:
    """Rebuilds, from Asterisk's CEL file, every call the live event stream missed.

    After each AMI login the tracker is rebuilt from the file (so calls still going carry the
    events missed while Tugi was away), calls that ended meanwhile are recorded unless already
    stored, and calls whose channels Asterisk no longer has are finished. It runs in the event
    dispatcher's order, so no live event is handled halfway through.
    """

    def __init__(
        self,
        recorder: CallRecorder,
        new_tracker: Callable[[], Any],
        read_lines: Callable[[], list[str]],
        known_uniqueids: Callable[[set[str]], Awaitable[set[str]]],
    ) -> None:
        self.recorder = recorder
        self.new_tracker = new_tracker
        self.read_lines = read_lines
        self.known_uniqueids = known_uniqueids
        self.rebuilt = 0

    async def run(self, live_uniqueids: set[str]) -> None:
        lines = await asyncio.to_thread(self.read_lines)
        tracker = self.new_tracker()
        finished: list[CallRecord] = []
        for fields in read_events(lines):
            finished += tracker.feed(fields, source="reconciliation")
        finished += tracker.finish_gone(live_uniqueids)
        from_file = {u for record in finished for u in record.uniqueids}
        # Calls the old tracker was following that are gone and that the file does not know
        # (a file rotated away): better the partial record than none.
        for record in self.recorder.tracker.finish_gone(live_uniqueids | _uniqueids_of(tracker)):
            if not from_file & set(record.uniqueids):
                finished.append(record)
        self.recorder.tracker = tracker
        for record in finished:
            if await self.known_uniqueids(set(record.uniqueids)):
                continue
            await self.recorder.finish([record])
            self.rebuilt += 1
        if self.rebuilt:
            log.info("reconciliation: %d calls rebuilt from Asterisk's CEL file so far", self.rebuilt)


def _uniqueids_of(tracker: Any) -> set[str]:
    return {u for call in tracker.live_calls() for u in call.uniqueids}
