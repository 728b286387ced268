"""The hub's relay: straight to sockets that can take a change now, queued for the backed-up, never out of order."""

from __future__ import annotations

import asyncio
import json

from conftest import Env

from web.keys import PRESENCE_HUB
from web.presence.notifier import RESYNC, Subscriber


class FakeSink:
    def __init__(self, ready: bool = True, fails: BaseException | None = None) -> None:
        self.is_ready = ready
        self.fails = fails
        self.sent: list[str] = []

    def ready(self) -> bool:
        return self.is_ready

    async def send(self, text: str) -> None:
        if self.fails is not None:
            raise self.fails
        self.sent.append(text)


async def _online(env: Env, staff_id: str) -> None:
    await env.presence.on_event({"Event": "ContactStatus", "AOR": staff_id, "ContactStatus": "Reachable"})
    await env.presence.on_event({"Event": "DeviceStateChange", "Device": f"PJSIP/{staff_id}", "State": "NOT_INUSE"})


async def _relayed(env: Env) -> None:
    """Let the relay task work through everything published so far."""
    hub = env.client.app[PRESENCE_HUB]
    for _ in range(100):
        if hub._changes.empty():
            break
        await asyncio.sleep(0)
    await asyncio.sleep(0)


def _states(subscriber: Subscriber) -> list[str]:
    items = []
    while not subscriber.queue.empty():
        item = subscriber.queue.get_nowait()
        items.append("resync" if item is RESYNC else json.loads(str(item))["staff"][0]["state"])
    return items


async def test_ready_sockets_get_it_directly_backed_up_ones_in_their_queue(env: Env) -> None:
    hub = env.client.app[PRESENCE_HUB]
    fast_sink, slow_sink = FakeSink(), FakeSink(ready=False)
    fast, slow = hub.subscribe(fast_sink), hub.subscribe(slow_sink)
    await _online(env, "alice")
    await _relayed(env)
    assert [json.loads(m)["staff"][0]["state"] for m in fast_sink.sent] == ["available"]
    assert fast.queue.empty()
    assert slow_sink.sent == []

    # the slow socket has caught up on its buffer, but its queue still holds the first change:
    # the second must queue behind it rather than overtake
    slow_sink.is_ready = True
    await env.presence.set_status("alice", "dnd")
    await _relayed(env)
    assert len(fast_sink.sent) == 2
    assert slow_sink.sent == []
    assert _states(slow) == ["available", "busy"]


async def test_a_socket_its_pump_is_writing_to_gets_it_queued(env: Env) -> None:
    hub = env.client.app[PRESENCE_HUB]
    sink = FakeSink()
    subscriber = hub.subscribe(sink)
    subscriber.busy = True
    await _online(env, "bob")
    await _relayed(env)
    assert sink.sent == []
    assert _states(subscriber) == ["available"]


async def test_a_failed_send_is_followed_by_a_snapshot_a_closed_socket_by_nothing(env: Env) -> None:
    hub = env.client.app[PRESENCE_HUB]
    broken = hub.subscribe(FakeSink(fails=ValueError("odd")))
    gone = hub.subscribe(FakeSink(fails=ConnectionResetError()))
    healthy_sink = FakeSink()
    hub.subscribe(healthy_sink)
    await _online(env, "carol")
    await _relayed(env)
    assert _states(broken) == ["resync"]
    assert _states(gone) == []
    assert len(healthy_sink.sent) == 1  # the others' failures did not stop the relay
