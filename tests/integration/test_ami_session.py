"""Tugi's AMI session against the real Asterisk, through a proxy the test can freeze or cut."""

from __future__ import annotations

import asyncio
import time

import pytest

from pbx_bridge.ami_protocol import AmiInjectionError
from pbx_bridge.ami_session import AmiDisconnected, AmiSession, AmiSettings
from tests.support import shop
from tests.support.tcp_proxy import TcpProxy


def session_for(port: int, secret: str = shop.AMI_SECRET, **overrides: float) -> AmiSession:
    settings = dict(heartbeat=0.5, heartbeat_timeout=0.5, backoff_initial=0.1, backoff_max=0.5)
    settings.update(overrides)
    return AmiSession(AmiSettings("127.0.0.1", port, "tugi", secret, **settings))


async def test_login_and_resync_lists(pbx) -> None:
    session = session_for(shop.AMI_PORT)
    await session.start()
    try:
        await session.wait_connected(10)
        channels = await session.send_list({"Action": "CoreShowChannels"})
        states = await session.send_list({"Action": "DeviceStateList"})
        assert isinstance(channels, list)
        assert any(s.get("Device") == "PJSIP/alice" for s in states)
    finally:
        await session.stop()


async def test_a_refused_login_is_retried_with_backoff_not_reported_as_up(pbx, caplog) -> None:
    session = session_for(shop.AMI_PORT, secret="wrong", backoff_initial=0.2)
    await session.start()
    try:
        await asyncio.sleep(1.5)
        assert not session.connected.is_set()
        assert session.logins == 0
        assert "refused for user 'tugi'" in caplog.text
    finally:
        await session.stop()


async def test_a_frozen_link_is_detected_by_the_heartbeat_and_reconnected(pbx) -> None:
    proxy = TcpProxy("127.0.0.1", shop.AMI_PORT)
    port = await proxy.start()
    session = session_for(port)
    lost: list[float] = []
    await session.start()
    try:
        await session.wait_connected(10)
        proxy.frozen = True
        frozen_at = time.monotonic()
        while session.connected.is_set():
            await asyncio.sleep(0.05)
        lost.append(time.monotonic() - frozen_at)
        proxy.frozen = False
        await session.wait_connected(10)
        assert session.logins == 2
        assert session.disconnects >= 1
        reply = await session.send({"Action": "Ping"})
        assert reply.get("Response") == "Success"
    finally:
        await session.stop()
        await proxy.stop()


async def test_an_action_in_flight_when_the_link_dies_fails_and_is_never_resent(pbx) -> None:
    proxy = TcpProxy("127.0.0.1", shop.AMI_PORT)
    port = await proxy.start()
    session = session_for(port, heartbeat=30)
    await session.start()
    try:
        await session.wait_connected(10)
        proxy.frozen = True   # the Originate leaves Tugi but its reply never comes back
        pending = asyncio.create_task(session.send({
            "Action": "Originate", "Channel": "PJSIP/nobody-here", "Application": "Wait", "Data": "1",
            "ChannelId": "tugi-test-once", "Async": "true",
        }, timeout=30))
        await asyncio.sleep(0.3)
        proxy.frozen = False
        proxy.cut()
        with pytest.raises(AmiDisconnected, match="not re-sent"):
            await pending
        await session.wait_connected(10)
        await asyncio.sleep(0.5)
        assert proxy.client_bytes.count(b"ChannelId: tugi-test-once") == 0  # frozen: it never even left
        # and after the reconnect nothing was replayed behind the caller's back
        assert b"Originate" not in proxy.client_bytes
    finally:
        await session.stop()
        await proxy.stop()


async def test_a_line_break_in_a_field_is_refused_before_anything_is_sent(pbx) -> None:
    session = session_for(shop.AMI_PORT)
    await session.start()
    try:
        await session.wait_connected(10)
        with pytest.raises(AmiInjectionError, match="'CallerID'"):
            await session.send({"Action": "Originate", "Channel": "PJSIP/alice",
                                "CallerID": "x\r\nAction: Command\r\nCommand: core stop now"})
        assert (await session.send({"Action": "Ping"})).get("Response") == "Success"
    finally:
        await session.stop()
