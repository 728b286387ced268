"""The web app served for real (web.server.start on a loopback port) and used over real HTTP.

No Asterisk here: history and masking on a SQLite file, presence fed by hand. What this adds
to the unit tests is the production runner: real sockets, CORS as a browser sees it, and no
aiohttp access-log line (which would carry query strings and client addresses).
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import create_engine

from history.masking_store import SqlSessionStore
from history.migrate import upgrade
from history.protect import AesGcmProtector
from history.store import HistoryStore
from masking.crypto import NumberCipher
from masking.service import MaskingService
from pbx_bridge.call_tokens import CallTokens
from pbx_bridge.presence_feed import PresenceFeed
from tests.support import shop
from web.app import build_app
from web.server import start
from web.services import WebServices

NOW = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)  # a Wednesday, 10:00 in Tallinn


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Served:
    def __init__(self, base: str, origin: str, presence: PresenceFeed, placed: list[tuple]) -> None:
        self.base = base
        self.origin = origin
        self.presence = presence
        self.placed = placed


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[Served]:
    port = _free_port()
    origin = f"http://127.0.0.1:{port}"
    base_settings = shop.test_settings()
    # model_copy skips validation: fine for two plain values already in their final form
    settings = base_settings.model_copy(
        update={"http": base_settings.http.model_copy(update={"port": port, "allowed_origins": (origin,)})}
    )
    url = f"sqlite:///{tmp_path / 'web.sqlite3'}"
    upgrade(url)
    engine = create_engine(url)
    placed: list[tuple] = []

    async def place_callback(number: str, staff: str, page: str | None, order: str | None, /, **kw: object) -> str:
        placed.append((number, staff, page, order))
        return "cb-1"

    presence = PresenceFeed(settings)
    services = WebServices(
        settings=settings,
        history=HistoryStore(engine, AesGcmProtector("integration-history-key")),
        presence=presence,
        masking=MaskingService(SqlSessionStore(engine), settings, lambda: NOW, NumberCipher("integration-mask-key")),
        tokens=CallTokens("test-call-token-key", settings.shop.id),
        place_callback=place_callback,
        clock=lambda: NOW,
    )
    runner = await start(build_app(services), settings.http)
    try:
        yield Served(f"http://127.0.0.1:{port}", origin, presence, placed)
    finally:
        await runner.cleanup()
        engine.dispose()


async def test_a_widget_session_over_real_http(served: Served, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    headers = {"Origin": served.origin}
    async with aiohttp.ClientSession() as http:
        async with http.options(
            f"{served.base}/api/public/callback",
            headers={**headers, "Access-Control-Request-Method": "POST"},
        ) as preflight:
            assert preflight.status == 204
            assert preflight.headers["Access-Control-Allow-Origin"] == served.origin

        async with http.post(f"{served.base}/api/public/call-token", json={"target": "alice"}, headers=headers) as r:
            assert r.status == 200
            token = (await r.json())["token"]
        assert CallTokens("test-call-token-key", "testshop").verify(token, NOW).target == "alice"

        async with http.ws_connect(f"{served.base}/api/public/presence/ws", headers=headers) as ws:
            first = json.loads((await ws.receive(timeout=2)).data)
            assert first["type"] == "presence"
            await served.presence.on_event({"Event": "ContactStatus", "AOR": "bob", "ContactStatus": "Reachable"})
            await served.presence.on_event({"Event": "DeviceStateChange", "Device": "PJSIP/bob", "State": "NOT_INUSE"})
            change = json.loads((await asyncio.wait_for(ws.receive(), 1.0)).data)
            assert change["staff"] == [{"id": "bob", "name": "Bob Bergmann", "photo_url": None, "state": "available"}]

        async with http.post(
            f"{served.base}/api/public/callback?src=ad", json={"number": "+372 5123 4567"}, headers=headers
        ) as r:
            assert r.status == 202
        assert served.placed == [("+37251234567", "team", None, None)]

        auth = {"Authorization": f"Bearer {shop.API_TOKEN}"}
        async with http.get(f"{served.base}/api/calls?customer=cust-9", headers=auth) as r:
            assert r.status == 200

    assert not [r for r in caplog.records if r.name == "aiohttp.access"]
    lines = [r.getMessage() for r in caplog.records if r.name == "tugi.web.access"]
    assert any(line.startswith("POST /api/public/callback 202") for line in lines)
    logged = "\n".join(r.getMessage() for r in caplog.records)
    for secret in ("5123 4567", "51234567", "src=ad", "cust-9", "127.0.0.1"):
        assert secret not in logged
