"""AMI framing: the event pre-filter, and that it asks Asterisk for what the engine reads."""

from __future__ import annotations

from dialplans.render import AMI_EVENTS, render
from pbx_bridge.ami_protocol import FrameBuffer
from tests.support import shop
from tugi import app

BANNER = b"Asterisk Call Manager/9.0.0\r\n"


def _frames(*frames: str) -> bytes:
    return BANNER + b"".join(f.replace("\n", "\r\n").encode() + b"\r\n\r\n" for f in frames)


def test_events_outside_the_set_are_dropped_unparsed_and_counted() -> None:
    frames = FrameBuffer(frozenset({"CEL"}))
    got = list(frames.feed(_frames(
        "Event: Newexten\nChannel: PJSIP/bob-00000001",
        "Event: CEL\nEventName: CHAN_START",
        "Event: VarSet\nVariable: TUGI_KIND",
    )))
    assert [m["Event"] for m in got] == ["CEL"]
    assert frames.ignored == 2


def test_replies_and_their_event_lists_always_pass() -> None:
    frames = FrameBuffer(frozenset({"CEL"}))
    got = list(frames.feed(_frames(
        "Response: Success\nActionID: a-1\nEventList: start",
        "Event: DeviceStateChange\nActionID: a-1\nDevice: PJSIP/bob\nState: INUSE",
        "Event: DeviceStateListComplete\nActionID: a-1\nEventList: Complete",
    )))
    assert [m.get("Event") or m.get("Response") for m in got] == [
        "Success", "DeviceStateChange", "DeviceStateListComplete"]
    assert frames.ignored == 0


def test_without_a_set_every_event_is_parsed() -> None:
    frames = FrameBuffer()
    assert len(list(frames.feed(_frames("Event: Newexten", "Event: CEL")))) == 2


def test_a_frame_split_across_reads_is_filtered_once_whole() -> None:
    frames = FrameBuffer(frozenset({"CEL"}))
    data = _frames("Event: Newexten\nChannel: x", "Event: CEL\nEventName: ANSWER")
    got = [m for i in range(0, len(data), 7) for m in frames.feed(data[i:i + 7])]
    assert [m["EventName"] for m in got] == ["ANSWER"]
    assert frames.ignored == 1


def test_manager_conf_asks_asterisk_for_exactly_what_the_engine_reads() -> None:
    assert set(AMI_EVENTS) == app.AMI_EVENTS
    (manager,) = [f.text for f in render(shop.test_settings()) if f.name == "manager.conf"]
    asked = {line.split("name(", 1)[1].split(")", 1)[0] for line in manager.splitlines()
             if line.startswith("eventfilter(")}
    assert asked == app.AMI_EVENTS


def test_a_frame_is_a_plain_dict_and_repeated_fields_keep_every_value() -> None:
    (message,) = FrameBuffer().feed(_frames(
        "Event: Newchannel\nChanVariable: a=1\nChanVariable: b=2\nCallerIDName: Müller"))
    assert type(message) is not dict and isinstance(message, dict)
    assert message["ChanVariable"] == ["a=1", "b=2"]
    assert message["CallerIDName"] == "Müller"
