"""The call tracker: Asterisk CEL events in, one `CallRecord` per customer call out.

Pure: no I/O, no asyncio, no panoramisk. The AMI listener feeds it each `CEL` event (and the
AMI `Hold`/`Unhold` events, which CEL lacks) as a plain mapping; reconciliation feeds it the
same dicts read back from cel_custom's CSV (`pbx_bridge.cel_csv`). `feed()` returns the records
that finished with that event, each exactly once.

How events become calls (after wazo-call-logd's CEL interpreter):

* A map from event name to an `_interpret_<event>` method; anything else is counted and skipped.
* Channels are grouped by LinkedID and by uniqueid. Two groups merge when a bridge (the `Peer` of
  BRIDGE_ENTER/EXIT) or a transfer (the uniqueids in the Extra of BLINDTRANSFER/ATTENDEDTRANSFER)
  joins their channels: in an attended transfer the target's channel takes the transferee's
  LinkedID, so LinkedID alone would split the call in two.
* A call finishes on LINKEDID_END once no channel of the group is alive (or every LinkedID the
  group has used has ended). Its uniqueids and LinkedIDs are then remembered for a while, so a
  duplicated or late event never starts a second record.

Times. cel_manager's `EventTime` is "%Y-%m-%d %H:%M:%S" in the Asterisk process's local time,
whole seconds only, whatever cel.conf's `dateformat` says; the AMI header `Timestamp` (manager.conf
`timestampevents=yes`) is epoch seconds with microseconds. cel_custom writes cel.conf's
`dateformat`, or "<epoch>.<usec>" without one. The tracker takes the most precise it has: an
EventTime with sub-second digits (epoch, or a date with ".%f"), else the AMI Timestamp, else the
whole-second EventTime. Epoch values are UTC; a date without a zone is read in `pbx_timezone`
(default UTC, which is what Tugi's chroot Asterisk runs in; set it to the PBX host's zone when
Asterisk runs elsewhere). Every datetime on a record is timezone-aware UTC.

Tugi's router speaks to the tracker through user-defined CEL events (`CELGenUserEvent`, run by
the route AGI with `EXEC`): `TUGI_ROUTE,<step>` appends a routing step to `CallRecord.route`,
`TUGI_REFUSED,<reason>` marks the call refused (disposition REFUSED when nobody was dialled),
`TUGI_REF,<key>=<value>` sets case/order/page/customer references.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
from collections import Counter, OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo

import phonenumbers

from config.schema import Settings
from history.records import CallRecord, Channel, Disposition, LegRecord, PartyKind

log = logging.getLogger(__name__)

# CEL event names the tracker reads; every other name is counted as unknown and skipped.
HOLD, UNHOLD = "HOLD", "UNHOLD"

# Hang-up causes (Q.850, as Asterisk reports them in HANGUP's Extra) of a leg nobody answered.
_BUSY_CAUSES = {17, 21}                 # user busy, call rejected
_NO_ANSWER_CAUSES = {18, 19}            # no user responding, no answer
_ELSEWHERE_CAUSES = {26}                # answered elsewhere (ring-all: someone else took it)
_FAILED_CAUSES = {1, 2, 3, 20, 22, 27, 28, 29, 31, 34, 38, 41, 42, 44, 47, 50, 58, 65, 66, 69, 79, 88, 102, 111}

_DIALSTATUS = {
    "BUSY": Disposition.BUSY,
    "NOANSWER": Disposition.NO_ANSWER,
    "CANCEL": Disposition.ABANDONED,
    "CHANUNAVAIL": Disposition.FAILED,
    "CONGESTION": Disposition.FAILED,
    "INVALIDARGS": Disposition.FAILED,
    "DONTCALL": Disposition.REFUSED,
    "TORTURE": Disposition.REFUSED,
}
_CALLER_OUTCOME = {
    Disposition.ANSWERED: "answered",
    Disposition.NO_ANSWER: "no_answer",
    Disposition.BUSY: "busy",
    Disposition.ABANDONED: "cancelled",
    Disposition.FAILED: "failed",
    Disposition.REFUSED: "failed",
}
_KINDS = {
    "internal": Channel.INTERNAL,
    "outbound": Channel.OUTBOUND,
    "web": Channel.WEB,
    "callback": Channel.CALLBACK,
    "inbound": Channel.PHONE,
    "masked": Channel.MASKED,
}
_DATE_FORMATS = ("%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S.%f%z", "%Y-%m-%dT%H:%M:%S%z")
_AGI_ROUTE = re.compile(r"^agi://[^/]*/route,([a-z_]+)(?:,|$)")
_CHANNEL_NAME = re.compile(r"^(?P<tech>[^/]+)/(?P<resource>.+?)(?:-[0-9a-fA-F]{8})?(?P<half>;[12])?$")
_REF_KEYS = {"case": "case_ref", "order": "order_ref", "page": "page_ref", "customer": "customer_id"}

CARRIER_ENDPOINT = "carrier"
OUTSOURCED_ENDPOINT = "outsourced"
WEB_GUEST_ENDPOINT = "tugi-web-guest"


@dataclass(frozen=True)
class LiveCall:
    """A call in progress, as far as the events so far tell."""

    linkedid: str
    channel: Channel
    started_at: datetime
    answered_at: datetime | None
    answered_by: str | None
    caller_kind: PartyKind
    caller_ref: str | None
    ringing: tuple[str, ...]       # party refs (staff id, "outsourced", kind) of legs ringing now
    talking: tuple[str, ...]       # party refs of answered legs still up
    uniqueids: tuple[str, ...]


# ------------------------------------------------------------------------------- internal state


@dataclass(slots=True)
class _Event:
    name: str
    time: datetime
    uniqueid: str
    linkedid: str
    channel: str
    cid_num: str
    cid_name: str
    exten: str
    context: str
    app: str
    appdata: str
    peer: str
    extra: str
    userdeftype: str

    @property
    def key(self) -> tuple:
        return (
            self.name, self.time, self.uniqueid, self.linkedid, self.channel, self.app,
            self.appdata, self.peer, self.extra, self.userdeftype, self.exten, self.context,
        )


@dataclass(slots=True)
class _Dial:
    uniqueid: str                  # the channel that ran Dial
    started_at: datetime
    targets: tuple[str, ...]       # raw dial targets: "PJSIP/bob", "PJSIP/+372...@carrier"
    ended_at: datetime | None = None
    # endpoint → its first target; a ring-all Dial to hundreds of phones starts hundreds of
    # channels, and each must find its target without a scan of every target
    by_endpoint: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for target in self.targets:
            self.by_endpoint.setdefault(CelTracker._target_endpoint(target), target)


@dataclass(slots=True)
class _Leg:
    uniqueid: str
    seq: int
    first_seen: datetime
    last_seen: datetime
    channel: str = ""
    linkedid: str = ""
    started_at: datetime | None = None
    cid_num: str = ""
    context: str = ""
    exten: str = ""
    answered_at: datetime | None = None
    hangup_at: datetime | None = None
    ended_at: datetime | None = None
    hangup_cause: int | None = None
    dialstatus: str = ""
    hangupsource: str = ""
    hold_since: datetime | None = None
    hold_seconds: float = 0.0
    transferred_at: datetime | None = None
    transferred_to: str | None = None
    dial: _Dial | None = None
    dial_target: str = ""

    @property
    def alive(self) -> bool:
        return self.ended_at is None

    @property
    def end(self) -> datetime:
        return self.ended_at or self.hangup_at or self.last_seen

    @property
    def start(self) -> datetime:
        return self.started_at or self.first_seen


@dataclass(slots=True)
class _Call:
    seq: int
    source: str
    legs: dict[str, _Leg] = field(default_factory=dict)
    linkedids: dict[str, bool] = field(default_factory=dict)   # linkedid -> LINKEDID_END seen
    dials: list[_Dial] = field(default_factory=list)
    # hash(_Event.key) of every event taken: the keys themselves would keep each event's
    # strings and times alive for the whole call, a third of what a live call costs. Two
    # events of one call colliding in 64 bits (odds ~n²/2⁶⁵) would drop the later as a duplicate.
    seen: set[int] = field(default_factory=set)
    transfers: set[tuple] = field(default_factory=set)
    kinds: list[tuple[datetime, str, str]] = field(default_factory=list)   # (time, uniqueid, kind)
    routes: list[tuple[datetime, str]] = field(default_factory=list)
    refused: str | None = None
    refs: dict[str, str] = field(default_factory=dict)
    last_event_at: datetime | None = None
    linkedid_end_at: datetime | None = None


class _Fields:
    """One event's fields by any of several names; case-insensitively only as a last resort,
    and then with the lower-cased copy built once per event, not once per missing name."""

    __slots__ = ("_event", "_lowered")

    def __init__(self, event: Mapping[str, str]) -> None:
        self._event = event
        self._lowered: dict[str, object] | None = None

    def __call__(self, *names: str) -> str:
        for name in names:
            if name in self._event:
                value = self._event[name]
                return "" if value is None else str(value)
        if self._lowered is None:
            self._lowered = {str(k).lower(): v for k, v in self._event.items()}
        for name in names:
            value = self._lowered.get(name.lower())
            if value is not None:
                return str(value)
        return ""


def _json(text: str) -> dict:
    if not text:
        return {}
    try:
        value = json.loads(text)
    except (ValueError, TypeError):
        return {}
    return value if isinstance(value, dict) else {}


def _first_arg(appdata: str) -> str:
    return appdata.split(",", 1)[0].strip()


class CelTracker:
    """Builds `CallRecord`s from CEL events; see the module docstring for the rules."""

    def __init__(
        self,
        settings: Settings,
        clock: Callable[[], datetime] | None = None,
        *,
        source: str = "ami",
        pbx_timezone: tzinfo = UTC,
        remember: int = 20000,
    ) -> None:
        self._settings = settings
        self._clock = clock or (lambda: datetime.now(UTC))
        self._source = source
        self._zone = pbx_timezone
        self._remember = remember
        self._staff = {person.endpoint: person.id for person in settings.staff}
        self._pool = set(settings.masking.pool)
        self._region = settings.shop.default_region
        self._calls: dict[int, _Call] = {}
        self._by_uid: dict[str, _Call] = {}
        self._by_linkedid: dict[str, _Call] = {}
        self._uid_by_name: dict[str, str] = {}
        self._finished: OrderedDict[str, None] = OrderedDict()
        self._seq = 0
        self.stats: Counter[str] = Counter()
        self._interpreters: dict[str, Callable[[_Call, _Leg, _Event], None]] = {
            "CHAN_START": self._interpret_chan_start,
            "CHAN_END": self._interpret_chan_end,
            "ANSWER": self._interpret_answer,
            "HANGUP": self._interpret_hangup,
            "APP_START": self._interpret_app_start,
            "APP_END": self._interpret_app_end,
            "BRIDGE_ENTER": self._interpret_bridge,
            "BRIDGE_EXIT": self._interpret_bridge,
            "BLINDTRANSFER": self._interpret_blindtransfer,
            "ATTENDEDTRANSFER": self._interpret_attendedtransfer,
            "USER_DEFINED": self._interpret_user_defined,
            "LINKEDID_END": self._interpret_linkedid_end,
            "PARK_START": self._interpret_other,
            "PARK_END": self._interpret_other,
            "PICKUP": self._interpret_other,
            "FORWARD": self._interpret_other,
            "LOCAL_OPTIMIZE": self._interpret_other,
            "LOCAL_OPTIMIZE_BEGIN": self._interpret_other,
            HOLD: self._interpret_hold,
            UNHOLD: self._interpret_unhold,
        }

    # ---------------------------------------------------------------------------- public API

    def feed(self, event: Mapping[str, str], *, source: str | None = None) -> list[CallRecord]:
        """Take one event; return the records of the calls it finished (usually none)."""
        self.stats["events"] += 1
        try:
            parsed = self._parse(event)
            if parsed is None:
                return []
            return self._apply(parsed, source or self._source)
        except Exception:  # a tracker that raises loses every later call: count, log, go on
            self.stats["errors"] += 1
            log.exception("call tracker could not interpret an event; skipped")
            return []

    def live_calls(self) -> list[LiveCall]:
        """The calls in progress, oldest first."""
        out = []
        for call in sorted(self._calls.values(), key=lambda c: c.seq):
            legs = self._ordered_legs(call)
            if not legs:
                continue
            caller = self._caller(call, legs)
            answered = self._first_answered(legs, caller)
            party = {leg.uniqueid: self._party(leg) for leg in legs}

            def ref(leg: _Leg, party: dict = party) -> str:
                kind, name = party[leg.uniqueid]
                return name or kind.value

            out.append(
                LiveCall(
                    linkedid=caller.linkedid or caller.uniqueid,
                    channel=self._channel(call, caller),
                    started_at=caller.start,
                    answered_at=answered.answered_at if answered else None,
                    answered_by=party[answered.uniqueid][1] if answered else None,
                    caller_kind=party[caller.uniqueid][0],
                    caller_ref=party[caller.uniqueid][1],
                    ringing=tuple(ref(leg) for leg in legs if leg is not caller and leg.alive and not leg.answered_at),
                    talking=tuple(ref(leg) for leg in legs if leg.alive and leg.answered_at),
                    uniqueids=tuple(leg.uniqueid for leg in legs),
                )
            )
        return out

    def flush(self, *, force: bool = False) -> list[CallRecord]:
        """Finish calls whose channels have all ended though no LINKEDID_END came (events were
        lost); with `force`, finish every call in progress (end of a reconciliation file)."""
        done = []
        for call in sorted(self._calls.values(), key=lambda c: c.seq):
            if call.legs and (force or all(not leg.alive for leg in call.legs.values())):
                done.append(self._finish(call))
        return done

    def finish_gone(self, live_uniqueids: set[str]) -> list[CallRecord]:
        """Finish the calls none of whose channels Asterisk still has (it restarted, or their
        end events were lost); `live_uniqueids` comes from CoreShowChannels."""
        done = []
        for call in sorted(self._calls.values(), key=lambda c: c.seq):
            if call.legs and not (set(call.legs) & live_uniqueids):
                done.append(self._finish(call))
        return done

    # ------------------------------------------------------------------------------ parsing

    def _parse(self, event: Mapping[str, str]) -> _Event | None:
        if not isinstance(event, Mapping):
            self.stats["malformed"] += 1
            return None
        field = _Fields(event)
        kind = field("Event")
        if kind in ("Hold", "Unhold"):
            name = kind.upper()
            uniqueid = field("Uniqueid", "UniqueID")
            linkedid = field("Linkedid", "LinkedID")
            when = self._time("", field("Timestamp")) or self._clock()
        elif kind in ("", "CEL"):
            name = field("EventName", "eventname", "eventtype").strip().upper()
            uniqueid = field("UniqueID", "uniqueid")
            linkedid = field("LinkedID", "linkedid")
            when = self._time(field("EventTime", "eventtime"), field("Timestamp"))
        else:
            self.stats["unknown"] += 1
            return None
        if not name or not uniqueid.strip() or when is None:
            self.stats["malformed"] += 1
            return None
        userdeftype = field("UserDefType", "userdeftype")
        if name not in self._interpreters:
            if kind != "CEL" and kind != "":
                self.stats["unknown"] += 1
                return None
            if userdeftype or name.startswith("TUGI_"):
                # a CSV row, or cel_manager with show_user_defined=no: the user event's own name
                userdeftype, name = userdeftype or name, "USER_DEFINED"
            else:
                self.stats["unknown"] += 1
                return None
        return _Event(
            name=name,
            time=when,
            uniqueid=uniqueid.strip(),
            linkedid=linkedid.strip(),
            channel=field("Channel", "channame"),
            cid_num=field("CallerIDnum", "cid_num"),
            cid_name=field("CallerIDname", "cid_name"),
            exten=field("Exten", "exten"),
            context=field("Context", "context"),
            app=field("Application", "appname"),
            appdata=field("AppData", "appdata"),
            peer=field("Peer", "peer"),
            extra=field("Extra", "extra"),
            userdeftype=userdeftype.strip(),
        )

    def _time(self, eventtime: str, timestamp: str) -> datetime | None:
        precise, coarse = None, None
        text = eventtime.strip()
        if text:
            if re.fullmatch(r"\d+(\.\d+)?", text):
                try:
                    value = datetime.fromtimestamp(float(text), UTC)
                except (ValueError, OverflowError, OSError):
                    value = None
                if value is not None and "." in text:
                    precise = value
                else:
                    coarse = value
            else:
                value = self._local_time(text)
                if value is not None and "." in text[19:]:
                    precise = value
                else:
                    coarse = value
        if precise is not None:
            return precise
        stamp = timestamp.strip()
        if stamp:
            try:
                return datetime.fromtimestamp(float(stamp), UTC)
            except (ValueError, OverflowError, OSError):
                pass
        return coarse

    def _local_time(self, text: str) -> datetime | None:
        """A CEL date in the PBX's zone (or with its own offset), in UTC."""
        value: datetime | None = None
        if len(text) >= 19 and text[10] in " T":
            # cel.conf's default format; fromisoformat reads it ten times faster than strptime
            with contextlib.suppress(ValueError):
                value = datetime.fromisoformat(text)
        for fmt in () if value is not None else _DATE_FORMATS:
            try:
                value = datetime.strptime(text, fmt)
                break
            except ValueError:
                continue
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=self._zone)
        return value.astimezone(UTC)

    # ----------------------------------------------------------------------------- grouping

    def _apply(self, ev: _Event, source: str) -> list[CallRecord]:
        if ev.uniqueid in self._finished or (
            ev.uniqueid not in self._by_uid and ev.linkedid and ev.linkedid in self._finished
        ):
            self.stats["late"] += 1
            return []
        call = self._call_for(ev, source)
        key = hash(ev.key)
        if key in call.seen:
            self.stats["duplicates"] += 1
            return []
        call.seen.add(key)
        leg = self._leg(call, ev)
        call.last_event_at = max(call.last_event_at or ev.time, ev.time)
        self._interpreters[ev.name](call, leg, ev)
        self.stats["interpreted"] += 1
        if ev.name == "LINKEDID_END":
            call = self._by_uid.get(ev.uniqueid, call)
            if call.seq in self._calls and self._is_over(call):
                return [self._finish(call)]
        return []

    def _call_for(self, ev: _Event, source: str) -> _Call:
        by_uid = self._by_uid.get(ev.uniqueid)
        by_linked = self._by_linkedid.get(ev.linkedid) if ev.linkedid else None
        if by_uid is None and by_linked is None:
            self._seq += 1
            call = _Call(seq=self._seq, source=source)
            self._calls[call.seq] = call
        elif by_uid is None:
            call = by_linked
        elif by_linked is None or by_linked is by_uid:
            call = by_uid
        else:
            call = self._merge(by_uid, by_linked)
        if ev.linkedid:
            call.linkedids.setdefault(ev.linkedid, False)
            self._by_linkedid[ev.linkedid] = call
        self._by_uid[ev.uniqueid] = call
        return call

    def _leg(self, call: _Call, ev: _Event) -> _Leg:
        leg = call.legs.get(ev.uniqueid)
        if leg is None:
            self._seq += 1
            leg = _Leg(uniqueid=ev.uniqueid, seq=self._seq, first_seen=ev.time, last_seen=ev.time)
            call.legs[ev.uniqueid] = leg
        leg.first_seen = min(leg.first_seen, ev.time)
        leg.last_seen = max(leg.last_seen, ev.time)
        if ev.channel and not leg.channel:
            leg.channel = ev.channel
        if ev.linkedid and not leg.linkedid:
            leg.linkedid = ev.linkedid
        if ev.channel:
            self._uid_by_name[ev.channel] = ev.uniqueid
        return leg

    def _join(self, call: _Call, uniqueid: str) -> _Call:
        """Merge the call of another channel into `call` (a bridge or a transfer joined them)."""
        other = self._by_uid.get(uniqueid)
        if other is None or other is call:
            return call
        return self._merge(call, other)

    def _merge(self, a: _Call, b: _Call) -> _Call:
        keep, gone = (a, b) if a.seq < b.seq else (b, a)
        keep.legs.update(gone.legs)
        for linkedid, ended in gone.linkedids.items():
            keep.linkedids[linkedid] = keep.linkedids.get(linkedid, False) or ended
        keep.dials += gone.dials
        keep.seen |= gone.seen
        keep.transfers |= gone.transfers
        keep.kinds += gone.kinds
        keep.routes += gone.routes
        keep.refused = keep.refused or gone.refused
        for key, value in gone.refs.items():
            keep.refs.setdefault(key, value)
        if gone.last_event_at and (keep.last_event_at is None or gone.last_event_at > keep.last_event_at):
            keep.last_event_at = gone.last_event_at
        for uniqueid in gone.legs:
            self._by_uid[uniqueid] = keep
        for linkedid in gone.linkedids:
            self._by_linkedid[linkedid] = keep
        self._calls.pop(gone.seq, None)
        self.stats["merges"] += 1
        return keep

    # --------------------------------------------------------------------------- interpreters

    def _interpret_chan_start(self, call: _Call, leg: _Leg, ev: _Event) -> None:
        if leg.started_at is not None:
            return
        leg.started_at = ev.time
        leg.channel = ev.channel or leg.channel
        leg.linkedid = ev.linkedid or leg.linkedid
        leg.cid_num = ev.cid_num
        leg.context = ev.context
        leg.exten = ev.exten
        # a channel started by Dial: the open Dial of this call that names its endpoint
        if ev.uniqueid != ev.linkedid:
            leg.dial, leg.dial_target = self._dial_of(call, leg, ev.time)

    def _dial_of(self, call: _Call, leg: _Leg, when: datetime) -> tuple[_Dial | None, str]:
        _, endpoint, _ = self._endpoint(leg.channel)
        candidates = [
            d for d in call.dials
            if d.uniqueid != leg.uniqueid and d.started_at <= when and (d.ended_at is None or d.ended_at >= when)
        ]
        candidates.sort(key=lambda d: d.started_at, reverse=True)
        for dial in candidates:
            target = dial.by_endpoint.get(endpoint)
            if target is not None:
                return dial, target
        return (candidates[0], "") if candidates else (None, "")

    def _interpret_chan_end(self, call: _Call, leg: _Leg, ev: _Event) -> None:
        if leg.ended_at is None:
            leg.ended_at = ev.time
        self._close_hold(leg, ev.time)

    def _interpret_answer(self, call: _Call, leg: _Leg, ev: _Event) -> None:
        if leg.answered_at is None or ev.time < leg.answered_at:
            leg.answered_at = ev.time

    def _interpret_hangup(self, call: _Call, leg: _Leg, ev: _Event) -> None:
        if leg.hangup_at is not None:
            return
        leg.hangup_at = ev.time
        extra = _json(ev.extra)
        cause = extra.get("hangupcause")
        if isinstance(cause, int) or (isinstance(cause, str) and cause.isdigit()):
            leg.hangup_cause = int(cause)
        leg.dialstatus = str(extra.get("dialstatus") or "").upper()
        leg.hangupsource = str(extra.get("hangupsource") or "")

    def _interpret_app_start(self, call: _Call, leg: _Leg, ev: _Event) -> None:
        app = ev.app.lower()
        if app == "dial":
            targets = tuple(t.strip() for t in _first_arg(ev.appdata).split("&") if t.strip())
            dial = _Dial(uniqueid=ev.uniqueid, started_at=ev.time, targets=targets)
            call.dials.append(dial)
        elif app == "agi":
            found = _AGI_ROUTE.match(ev.appdata.strip())
            if found:
                call.kinds.append((ev.time, ev.uniqueid, found.group(1)))

    def _interpret_app_end(self, call: _Call, leg: _Leg, ev: _Event) -> None:
        if ev.app.lower() != "dial":
            return
        targets = tuple(t.strip() for t in _first_arg(ev.appdata).split("&") if t.strip())
        for dial in reversed(call.dials):
            if dial.uniqueid == ev.uniqueid and dial.ended_at is None and dial.targets == targets:
                dial.ended_at = ev.time
                break

    def _interpret_bridge(self, call: _Call, leg: _Leg, ev: _Event) -> None:
        for name in (p.strip() for p in ev.peer.split(",")):
            uniqueid = self._uid_by_name.get(name) if name else None
            if uniqueid:
                call = self._join(call, uniqueid)

    def _interpret_blindtransfer(self, call: _Call, leg: _Leg, ev: _Event) -> None:
        extra = _json(ev.extra)
        call = self._join_extra(call, extra)
        call.transfers.add(("blind", ev.uniqueid, ev.time))
        leg.transferred_at = leg.transferred_at or ev.time

    def _interpret_attendedtransfer(self, call: _Call, leg: _Leg, ev: _Event) -> None:
        extra = _json(ev.extra)
        call = self._join_extra(call, extra)
        call.transfers.add(("attended", ev.uniqueid, ev.time))
        target = str(extra.get("transfer_target_channel_uniqueid") or "") or None
        for uniqueid in (ev.uniqueid, str(extra.get("channel2_uniqueid") or "")):
            transferer = call.legs.get(uniqueid)
            if transferer is not None and transferer.uniqueid != target:
                transferer.transferred_at = transferer.transferred_at or ev.time
                transferer.transferred_to = transferer.transferred_to or target

    def _join_extra(self, call: _Call, extra: dict) -> _Call:
        for key, value in extra.items():
            if key.endswith("uniqueid") and isinstance(value, str) and value:
                call = self._join(call, value)
        return call

    def _interpret_user_defined(self, call: _Call, leg: _Leg, ev: _Event) -> None:
        name = ev.userdeftype.upper()
        value = _json(ev.extra).get("extra")
        if not isinstance(value, str):
            parts = ev.appdata.split(",", 1)
            value = parts[1] if len(parts) == 2 else ""
        value = value.strip()
        if name == "TUGI_ROUTE" and value:
            call.routes.append((ev.time, value))
        elif name == "TUGI_REFUSED":
            call.refused = call.refused or value or "refused"
        elif name == "TUGI_REF" and "=" in value:
            key, _, ref = value.partition("=")
            if key.strip() in _REF_KEYS and ref.strip():
                call.refs[_REF_KEYS[key.strip()]] = ref.strip()

    def _interpret_linkedid_end(self, call: _Call, leg: _Leg, ev: _Event) -> None:
        if ev.linkedid:
            call.linkedids[ev.linkedid] = True
        call.linkedid_end_at = max(call.linkedid_end_at or ev.time, ev.time)

    def _interpret_hold(self, call: _Call, leg: _Leg, ev: _Event) -> None:
        if leg.hold_since is None and leg.ended_at is None:
            leg.hold_since = ev.time

    def _interpret_unhold(self, call: _Call, leg: _Leg, ev: _Event) -> None:
        self._close_hold(leg, ev.time)

    def _interpret_other(self, call: _Call, leg: _Leg, ev: _Event) -> None:
        """Events that only tie a channel to its call (park, pickup, forward, local optimise)."""
        if ev.peer:
            self._interpret_bridge(call, leg, ev)

    @staticmethod
    def _close_hold(leg: _Leg, when: datetime) -> None:
        if leg.hold_since is not None:
            leg.hold_seconds += max(0.0, (when - leg.hold_since).total_seconds())
            leg.hold_since = None

    # ---------------------------------------------------------------------------- finishing

    @staticmethod
    def _is_over(call: _Call) -> bool:
        if all(not leg.alive for leg in call.legs.values()):
            return True
        return bool(call.linkedids) and all(call.linkedids.values())

    def _finish(self, call: _Call) -> CallRecord:
        record = self._record(call)
        self._calls.pop(call.seq, None)
        for uniqueid, leg in call.legs.items():
            if self._by_uid.get(uniqueid) is call:
                del self._by_uid[uniqueid]
            if leg.channel and self._uid_by_name.get(leg.channel) == uniqueid:
                del self._uid_by_name[leg.channel]
            self._remember_id(uniqueid)
        for linkedid in call.linkedids:
            if self._by_linkedid.get(linkedid) is call:
                del self._by_linkedid[linkedid]
            self._remember_id(linkedid)
        self.stats["records"] += 1
        return record

    def _remember_id(self, key: str) -> None:
        self._finished[key] = None
        self._finished.move_to_end(key)
        while len(self._finished) > self._remember:
            self._finished.popitem(last=False)

    # -------------------------------------------------------------------------- the record

    @staticmethod
    def _ordered_legs(call: _Call) -> list[_Leg]:
        return sorted(call.legs.values(), key=lambda leg: (leg.start, leg.seq))

    @staticmethod
    def _caller(call: _Call, legs: list[_Leg]) -> _Leg:
        """The channel that started the call: the oldest whose uniqueid is its own LinkedID."""
        people = [leg for leg in legs if not leg.channel.startswith("Local/")] or legs
        for leg in people:
            if leg.linkedid and leg.uniqueid == leg.linkedid:
                return leg
        return people[0]

    @staticmethod
    def _first_answered(legs: list[_Leg], caller: _Leg) -> _Leg | None:
        answered = [
            leg for leg in legs if leg is not caller and leg.answered_at and not leg.channel.startswith("Local/")
        ]
        return min(answered, key=lambda leg: (leg.answered_at, leg.seq)) if answered else None

    @staticmethod
    def _endpoint(channel: str) -> tuple[str, str, str]:
        """("PJSIP", "bob", "") from "PJSIP/bob-00000001"; the half (";1") for Local channels."""
        found = _CHANNEL_NAME.match(channel or "")
        if not found:
            return "", "", ""
        return found.group("tech"), found.group("resource"), found.group("half") or ""

    @staticmethod
    def _target_endpoint(target: str) -> str:
        """The endpoint a dial target reaches: "bob" for PJSIP/bob, "carrier" for PJSIP/+372…@carrier."""
        _, _, resource = target.partition("/")
        resource = resource.split("/", 1)[0]
        return resource.rpartition("@")[2] if "@" in resource else resource

    def _party(self, leg: _Leg) -> tuple[PartyKind, str | None]:
        tech, endpoint, _ = self._endpoint(leg.channel)
        if tech.upper() != "PJSIP":
            return PartyKind.UNKNOWN, None
        if endpoint in self._staff:
            return PartyKind.STAFF, self._staff[endpoint]
        if endpoint == CARRIER_ENDPOINT:
            return PartyKind.CUSTOMER, None
        if endpoint == OUTSOURCED_ENDPOINT:
            return PartyKind.OUTSOURCED, "outsourced"
        if endpoint == WEB_GUEST_ENDPOINT:
            return PartyKind.WEB_VISITOR, None
        return PartyKind.UNKNOWN, None

    def _target_ref(self, target: str) -> str:
        """A dial target as a reference, never a phone number: staff id, "outsourced", "customer"."""
        endpoint = self._target_endpoint(target)
        if endpoint in self._staff:
            return self._staff[endpoint]
        if endpoint == CARRIER_ENDPOINT:
            return "customer"
        if endpoint == OUTSOURCED_ENDPOINT:
            return "outsourced"
        if endpoint == WEB_GUEST_ENDPOINT:
            return "web_visitor"
        return "other" if re.search(r"\d{5}", endpoint) or not endpoint else endpoint

    def _number(self, raw: str) -> str | None:
        """E.164 for something that looks like a phone number; None for "s", names, extensions."""
        text = re.sub(r"[\s().-]", "", raw or "")
        if not re.fullmatch(r"\+?\d{6,15}", text):
            return None
        try:
            number = phonenumbers.parse(text, self._region)
        except phonenumbers.NumberParseException:
            return None
        if not phonenumbers.is_possible_number(number):
            return None
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)

    def _channel(self, call: _Call, caller: _Leg) -> Channel:
        kinds = sorted(call.kinds, key=lambda k: (k[1] != caller.uniqueid, k[0]))
        for _, _, kind in kinds:
            if kind in _KINDS:
                return _KINDS[kind]
        context, exten = caller.context, caller.exten.strip()
        if context == "tugi-internal":
            return Channel.OUTBOUND if exten.startswith("+") else Channel.INTERNAL
        if context == "tugi-web":
            return Channel.WEB
        if context == "tugi-callback":
            return Channel.CALLBACK
        if context == "tugi-from-carrier":
            dialled = exten if exten.startswith("+") else "+" + re.sub(r"\D", "", exten)
            return Channel.MASKED if dialled in self._pool else Channel.PHONE
        kind, _ = self._party(caller)
        return {
            PartyKind.STAFF: Channel.INTERNAL,
            PartyKind.WEB_VISITOR: Channel.WEB,
        }.get(kind, Channel.PHONE)

    def _disposition(self, call: _Call, legs: list[_Leg], caller: _Leg, answered: _Leg | None) -> Disposition:
        if answered is not None:
            return Disposition.ANSWERED
        if not call.dials:
            return Disposition.REFUSED if call.refused else Disposition.FAILED
        last = max(call.dials, key=lambda d: d.started_at)
        dialler = call.legs.get(last.uniqueid)
        status = dialler.dialstatus if dialler else ""
        if status == "ANSWER":
            return Disposition.ANSWERED
        if status in _DIALSTATUS:
            return _DIALSTATUS[status]
        # no DIALSTATUS (events lost, or the caller hung up mid-Dial): judge by the legs rung
        rung = [leg for leg in legs if leg.dial is last]
        if dialler and dialler.hangupsource == dialler.channel and any(
            leg.end >= (dialler.hangup_at or dialler.end) for leg in rung
        ):
            return Disposition.ABANDONED
        outcomes = {self._callee_outcome(call, leg, caller) for leg in rung}
        if "busy" in outcomes:
            return Disposition.BUSY
        if "no_answer" in outcomes:
            return Disposition.NO_ANSWER
        if "cancelled" in outcomes:
            return Disposition.ABANDONED
        return Disposition.FAILED if call.refused is None else Disposition.REFUSED

    def _callee_outcome(self, call: _Call, leg: _Leg, caller: _Leg) -> str:
        if leg.transferred_at is not None:
            return "transferred"
        if leg.answered_at is not None:
            return "answered"
        cause = leg.hangup_cause
        if cause in _BUSY_CAUSES:
            return "busy"
        if cause in _NO_ANSWER_CAUSES:
            return "no_answer"
        if cause in _ELSEWHERE_CAUSES:
            return "cancelled"
        if cause in _FAILED_CAUSES:
            return "failed"
        dial = leg.dial
        dialler = call.legs.get(dial.uniqueid) if dial else None
        if dialler is not None and dial is not None:
            # DIALSTATUS on the dialler's HANGUP is the result of the last Dial that channel ran
            own = [d for d in call.dials if d.uniqueid == dial.uniqueid]
            status = dialler.dialstatus if dial is max(own, key=lambda d: d.started_at) else ""
            if status == "CANCEL":
                return "cancelled"
            if status == "NOANSWER":
                return "no_answer"
            if dialler.hangupsource == dialler.channel and dialler.hangup_at and leg.end >= dialler.hangup_at:
                return "cancelled"
            siblings = [other for other in call.legs.values() if other.dial is dial and other is not leg]
            if any(other.answered_at for other in siblings):
                return "cancelled"
        return "no_answer"

    def _record(self, call: _Call) -> CallRecord:
        all_legs = self._ordered_legs(call)
        legs = [leg for leg in all_legs if not leg.channel.startswith("Local/")] or all_legs
        caller = self._caller(call, legs)
        answered = self._first_answered(legs, caller)
        disposition = self._disposition(call, legs, caller, answered)
        parties = {leg.uniqueid: self._party(leg) for leg in legs}

        # blind transfers: the transferer's leg went to whoever the transferee reached next
        for leg in legs:
            if leg.transferred_at is not None and leg.transferred_to is None:
                later = [
                    other for other in legs
                    if other is not leg and other is not caller and other.start >= leg.transferred_at
                ]
                later.sort(key=lambda other: (other.answered_at is None, other.start, other.seq))
                leg.transferred_to = later[0].uniqueid if later else None

        records = []
        for leg in legs:
            end = max(leg.end, leg.start)
            hold = leg.hold_seconds
            if leg.hold_since is not None:
                hold += max(0.0, (end - leg.hold_since).total_seconds())
            if leg is caller:
                outcome = "transferred" if leg.transferred_at else _CALLER_OUTCOME[disposition]
            else:
                outcome = self._callee_outcome(call, leg, caller)
            kind, ref = parties[leg.uniqueid]
            records.append(
                LegRecord(
                    uniqueid=leg.uniqueid,
                    party_kind=kind,
                    party_ref=ref,
                    started_at=leg.start,
                    ended_at=end,
                    answered_at=leg.answered_at,
                    outcome=outcome,
                    hangup_cause=leg.hangup_cause,
                    is_caller=leg is caller,
                    transferred_to=leg.transferred_to,
                    hold_seconds=round(hold, 6),
                )
            )

        caller_kind, caller_ref = parties[caller.uniqueid]
        caller_number = self._number(caller.cid_num) if caller_kind == PartyKind.CUSTOMER else None
        callee_number = None
        for leg in legs:
            if leg is not caller and parties[leg.uniqueid][0] == PartyKind.CUSTOMER:
                user = leg.dial_target.partition("/")[2].partition("@")[0] if "@" in leg.dial_target else ""
                callee_number = self._number(user) or self._number(leg.cid_num)
                if callee_number:
                    break

        started = caller.start
        ended = max([leg.end for leg in legs] + ([call.linkedid_end_at] if call.linkedid_end_at else []))
        ended = max(ended, started)
        callees = [leg for leg in legs if leg is not caller]
        first_ring = min((leg.start for leg in callees), default=ended)
        targets: list[str] = []
        for dial in sorted(call.dials, key=lambda d: d.started_at):
            for target in dial.targets:
                ref = self._target_ref(target)
                if ref not in targets:
                    targets.append(ref)
        extra: dict[str, str] = {}
        if call.refused:
            extra["refused"] = call.refused
        if any(leg.started_at is None or leg.ended_at is None for leg in all_legs):
            extra["partial"] = "true"
        return CallRecord(
            linkedid=caller.linkedid or caller.uniqueid,
            channel=self._channel(call, caller),
            started_at=started,
            ended_at=ended,
            disposition=disposition,
            legs=tuple(records),
            answered_at=answered.answered_at if answered else None,
            answered_by=parties[answered.uniqueid][1] if answered else None,
            caller_kind=caller_kind,
            caller_ref=caller_ref,
            caller_number=caller_number,
            callee_number=callee_number,
            customer_id=call.refs.get("customer_id"),
            case_ref=call.refs.get("case_ref"),
            order_ref=call.refs.get("order_ref"),
            page_ref=call.refs.get("page_ref"),
            route=tuple(step for _, step in sorted(call.routes, key=lambda r: r[0])),
            targets_tried=tuple(targets),
            queue_seconds=max(0.0, (first_ring - started).total_seconds()),
            transfers=len(call.transfers),
            uniqueids=tuple(leg.uniqueid for leg in all_legs),
            source=call.source,
            extra=extra,
        )


__all__ = ["CelTracker", "LiveCall"]
