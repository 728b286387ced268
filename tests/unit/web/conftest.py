"""A real web app over real parts: HistoryStore and MaskingService on a migrated SQLite file,
PresenceFeed and CallTokens from the test shop, a fake clock and a recording call-back hook."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import create_engine

from config.loader import parse_settings
from config.schema import Settings
from history.masking_store import SqlSessionStore
from history.migrate import upgrade
from history.protect import AesGcmProtector
from history.records import CallRecord, Channel, Disposition, LegRecord, PartyKind
from history.store import HistoryStore
from masking.crypto import NumberCipher
from masking.service import MaskingService
from pbx_bridge.call_tokens import CallTokens
from pbx_bridge.presence_feed import PresenceFeed
from tests.support.shop import API_TOKEN, TEST_SHOP_TOML
from web.app import build_app
from web.limits import PublicLimits
from web.server import RUNNER_OPTIONS
from web.services import WebServices

TALLINN = ZoneInfo("Europe/Tallinn")
COURIER_TOKEN = "test-courier-token-dhl"
ORIGIN = "http://127.0.0.1:18080"
BACK_OFFICE = {"Authorization": f"Bearer {API_TOKEN}"}
COURIER = {"Authorization": f"Bearer {COURIER_TOKEN}"}
WIDGET = {"Origin": ORIGIN}
PHOTO = "https://shop.example/staff/alice.jpg"

CUSTOMER_NUMBER = "+37251000001"
CUSTOMER2_NUMBER = "+37251000002"
COURIER_NUMBER = "+37252000001"
COURIER2_NUMBER = "+37252000002"

_TOKENS_LINE = f'api_tokens = {{ backoffice = "{API_TOKEN}" }}'
BASE_REPLACEMENTS = {
    _TOKENS_LINE: f'api_tokens = {{ backoffice = "{API_TOKEN}", "courier:dhl" = "{COURIER_TOKEN}" }}',
    'name = "Alice Aas"\n': f'name = "Alice Aas"\nphoto_url = "{PHOTO}"\n',
}


def shop_settings(replacements: dict[str, str] | None = None) -> Settings:
    """The test shop, with a courier token and Alice's photo, plus any other text replacements."""
    text = TEST_SHOP_TOML
    for old, new in {**BASE_REPLACEMENTS, **(replacements or {})}.items():
        assert old in text, f"replacement target not in TEST_SHOP_TOML: {old!r}"
        text = text.replace(old, new)
    return parse_settings(text, "tests/unit/web")


class FakeClock:
    def __init__(self) -> None:
        # a Monday, 10:00 in Tallinn: the shop is open
        self.now = datetime(2026, 3, 2, 10, 0, tzinfo=TALLINN)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)


@dataclass
class Callbacks:
    calls: list[dict[str, Any]] = field(default_factory=list)

    async def __call__(
        self,
        customer_number: str,
        staff_id: str,
        page_ref: str | None,
        order_ref: str | None,
        /,
        *,
        preferred_time: datetime | None = None,
    ) -> str:
        self.calls.append(
            {"number": customer_number, "staff": staff_id, "page_ref": page_ref, "order_ref": order_ref,
             "preferred_time": preferred_time}
        )
        return f"cb-{len(self.calls)}"


@dataclass
class Env:
    client: TestClient
    services: WebServices
    clock: FakeClock
    callbacks: Callbacks
    settings: Settings

    @property
    def history(self) -> HistoryStore:
        return self.services.history

    @property
    def masking(self) -> MaskingService:
        assert self.services.masking is not None
        return self.services.masking

    @property
    def presence(self) -> PresenceFeed:
        return self.services.presence


MakeEnv = Callable[..., Awaitable[Env]]


@pytest.fixture
async def make_env(tmp_path: Path) -> AsyncIterator[MakeEnv]:
    clients: list[TestClient] = []
    engines = []

    async def build(
        settings: Settings | None = None,
        limits: PublicLimits | None = None,
        *,
        masking: bool = True,
        callbacks: bool = True,
        tokens: bool = True,
    ) -> Env:
        settings = settings or shop_settings()
        url = f"sqlite:///{tmp_path / f'tugi-{len(engines)}.sqlite3'}"
        upgrade(url)
        engine = create_engine(url)
        engines.append(engine)
        clock = FakeClock()
        key = settings.masking.encryption_key
        assert key is not None
        recorder = Callbacks()
        services = WebServices(
            settings=settings,
            history=HistoryStore(engine, AesGcmProtector("test-history-key-0123456789")),
            presence=PresenceFeed(settings),
            masking=MaskingService(SqlSessionStore(engine), settings, clock, NumberCipher(key.get_secret_value()))
            if masking else None,
            tokens=CallTokens("test-call-token-key", settings.shop.id) if tokens else None,
            place_callback=recorder if callbacks else None,
            clock=clock,
        )
        server = TestServer(build_app(services, limits=limits))
        await server.start_server(**RUNNER_OPTIONS)  # as production runs it: no aiohttp access log
        client = TestClient(server)
        await client.start_server()
        clients.append(client)
        return Env(client, services, clock, recorder, settings)

    yield build
    for client in clients:
        await client.close()
    for engine in engines:
        engine.dispose()


@pytest.fixture
async def env(make_env: MakeEnv) -> Env:
    return await make_env()


def at(hour: int, minute: int = 0, day: int = 2) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=TALLINN)


def seed_calls(history: HistoryStore) -> dict[str, int]:
    """Four calls on Monday 2 March 2026 (and one on Sunday), different in every filtered field."""
    ids: dict[str, int] = {}
    history.add_customer("cust-1", "Mari Maasikas", phones=[CUSTOMER_NUMBER])

    def leg(uid: str, kind: PartyKind, ref: str | None, start: datetime, answered: bool = True) -> LegRecord:
        return LegRecord(
            uniqueid=uid, party_kind=kind, party_ref=ref, started_at=start, ended_at=start + timedelta(minutes=3),
            answered_at=start + timedelta(seconds=5) if answered else None,
            outcome="answered" if answered else "no_answer",
        )

    def save(name: str, **kw: Any) -> None:
        start: datetime = kw.pop("started_at")
        answered = kw.get("disposition") is Disposition.ANSWERED
        kw.setdefault("legs", ())
        ids[name] = history.save_call(
            CallRecord(
                linkedid=f"linked-{name}",
                started_at=start,
                ended_at=start + timedelta(minutes=3),
                answered_at=start + timedelta(seconds=5) if answered else None,
                **kw,
            )
        )

    save("web_alice", channel=Channel.WEB, started_at=at(9, 30), disposition=Disposition.ANSWERED,
         answered_by="alice", caller_kind=PartyKind.CUSTOMER, caller_number=CUSTOMER_NUMBER,
         customer_id="cust-1", page_ref="page-1",
         legs=(leg("u1", PartyKind.CUSTOMER, "cust-1", at(9, 30)), leg("u2", PartyKind.STAFF, "alice", at(9, 30))))
    save("phone_missed", channel=Channel.PHONE, started_at=at(11, 0), disposition=Disposition.NO_ANSWER,
         caller_kind=PartyKind.CUSTOMER, caller_number=CUSTOMER2_NUMBER,
         legs=(leg("u3", PartyKind.STAFF, "bob", at(11, 0), answered=False),))
    save("phone_bob", channel=Channel.PHONE, started_at=at(14, 0), disposition=Disposition.ANSWERED,
         answered_by="bob", caller_kind=PartyKind.CUSTOMER, caller_number=CUSTOMER_NUMBER, customer_id="cust-1")
    save("abandoned", channel=Channel.WEB, started_at=at(16, 0), disposition=Disposition.ABANDONED,
         caller_kind=PartyKind.WEB_VISITOR)
    save("sunday", channel=Channel.PHONE, started_at=at(12, 0, day=1), disposition=Disposition.ANSWERED,
         answered_by="carol", caller_kind=PartyKind.CUSTOMER, caller_number=CUSTOMER2_NUMBER)
    return ids
