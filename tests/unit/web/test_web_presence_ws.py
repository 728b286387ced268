"""The presence WebSocket: a snapshot on connect, a message per change, and no patience for chatter."""

from __future__ import annotations

import asyncio
import json
import threading

import aiohttp
import pytest
from conftest import WIDGET, Env, MakeEnv

from web.keys import PRESENCE_HUB
from web.limits import PublicLimits
from web.ratelimit import Rate

WS = "/api/public/presence/ws"


async def _online(env: Env, staff_id: str) -> None:
    await env.presence.on_event({"Event": "ContactStatus", "AOR": staff_id, "ContactStatus": "Reachable"})
    await env.presence.on_event({"Event": "DeviceStateChange", "Device": f"PJSIP/{staff_id}", "State": "NOT_INUSE"})


async def _receive(ws: aiohttp.ClientWebSocketResponse) -> dict:
    message = await ws.receive(timeout=1.0)
    assert message.type is aiohttp.WSMsgType.TEXT, message
    return json.loads(message.data)


async def _wait_for_subscribers(env: Env, count: int) -> None:
    hub = env.client.app[PRESENCE_HUB]
    for _ in range(100):
        if len(hub) == count:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"{len(hub)} subscribers, expected {count}")


async def test_snapshot_on_connect_then_a_change_within_a_second(env: Env) -> None:
    await _online(env, "alice")
    async with env.client.ws_connect(WS, headers=WIDGET) as ws:
        first = await _receive(ws)
        assert first["type"] == "presence"
        assert {p["id"]: p["state"] for p in first["staff"]}["alice"] == "available"
        assert set(first) == {"type", "staff", "team", "open_now", "hours"}

        await env.presence.set_status("alice", "dnd")
        change = await _receive(ws)
        assert change == {
            "type": "change",
            "staff": [{"id": "alice", "name": "Alice Aas", "photo_url": change["staff"][0]["photo_url"],
                       "state": "busy"}],
            "team": "busy",
            "open_now": True,
        }


async def test_every_open_socket_gets_the_change(env: Env) -> None:
    await _online(env, "bob")
    async with env.client.ws_connect(WS, headers=WIDGET) as one, env.client.ws_connect(WS, headers=WIDGET) as two:
        await _receive(one)
        await _receive(two)
        await env.presence.set_status("bob", "away")
        for ws in (one, two):
            assert (await _receive(ws))["staff"][0] == {
                "id": "bob", "name": "Bob Bergmann", "photo_url": None, "state": "offline"
            }
    await _wait_for_subscribers(env, 0)


async def test_only_public_state_changes_are_sent(env: Env) -> None:
    async with env.client.ws_connect(WS, headers=WIDGET) as ws:
        await _receive(ws)
        # alice is offline (not registered): setting dnd changes nothing the widget shows
        await env.presence.set_status("alice", "dnd")
        await _online(env, "carol")  # carol: offline -> available, one message
        change = await _receive(ws)
        assert change["staff"][0]["id"] == "carol"
        with pytest.raises(asyncio.TimeoutError):
            await ws.receive(timeout=0.2)


async def test_a_change_from_another_thread_arrives(env: Env) -> None:
    await _online(env, "dan")
    async with env.client.ws_connect(WS, headers=WIDGET) as ws:
        await _receive(ws)
        # PresenceFeed may live on another event loop (the engine's thread): the hub hops over
        thread = threading.Thread(target=lambda: asyncio.run(env.presence.set_status("dan", "walk_in")))
        thread.start()
        thread.join()
        assert (await _receive(ws))["staff"][0]["state"] == "busy"


@pytest.mark.parametrize("headers", [{"Origin": "https://evil.example"}, {}], ids=["foreign", "missing"])
async def test_origin_must_be_allowed(env: Env, headers: dict[str, str]) -> None:
    with pytest.raises(aiohttp.WSServerHandshakeError) as caught:
        await env.client.ws_connect(WS, headers=headers)
    assert caught.value.status == 403


async def test_plain_get_on_the_socket_path_is_400(env: Env) -> None:
    response = await env.client.get(WS, headers=WIDGET)
    assert response.status == 400
    assert "WebSocket" in (await response.json())["error"]


async def test_large_message_closes_with_1008(env: Env) -> None:
    async with env.client.ws_connect(WS, headers=WIDGET) as ws:
        await _receive(ws)
        await ws.send_str("x" * 5000)
        message = await ws.receive(timeout=1.0)
        assert message.type is aiohttp.WSMsgType.CLOSE
        assert message.data == aiohttp.WSCloseCode.POLICY_VIOLATION


async def test_small_messages_are_ignored(env: Env) -> None:
    async with env.client.ws_connect(WS, headers=WIDGET) as ws:
        await _receive(ws)
        await ws.send_str('{"hello": "there"}')
        await _online(env, "alice")
        assert (await _receive(ws))["type"] == "change"


async def test_chatty_client_closes_with_1008(make_env: MakeEnv) -> None:
    env = await make_env(limits=PublicLimits(ws_messages=Rate(per_second=1, burst=3)))
    async with env.client.ws_connect(WS, headers=WIDGET) as ws:
        await _receive(ws)
        for _ in range(5):
            await ws.send_str("ping")
        message = await ws.receive(timeout=1.0)
        assert message.type is aiohttp.WSMsgType.CLOSE
        assert message.data == aiohttp.WSCloseCode.POLICY_VIOLATION


async def test_slow_reader_gets_a_fresh_snapshot_instead_of_a_backlog(make_env: MakeEnv) -> None:
    env = await make_env(limits=PublicLimits(ws_queue=2))
    hub = env.client.app[PRESENCE_HUB]
    subscriber = hub.subscribe()
    for staff_id in ("alice", "bob", "carol"):
        await _online(env, staff_id)
    items = []
    while not subscriber.queue.empty():
        items.append(subscriber.queue.get_nowait())
    assert len(items) == 1 and not isinstance(items[0], str)  # RESYNC
    hub.unsubscribe(subscriber)


async def test_sockets_are_closed_when_the_server_stops(env: Env) -> None:
    ws = await env.client.ws_connect(WS, headers=WIDGET)
    await _receive(ws)
    await env.client.close()
    message = await ws.receive(timeout=2.0)
    assert message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
    if message.type is aiohttp.WSMsgType.CLOSE:
        assert message.data == aiohttp.WSCloseCode.GOING_AWAY
    await ws.close()
