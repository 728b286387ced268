"""Shared fixtures: a real Asterisk 22 and real SIP phones, started once per test session."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator

import pytest

from config.schema import Settings
from tests.support import shop


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Tests under integration/ that name a real-part fixture are marked so `-m "not asterisk"` works.
    for item in items:
        names = set(getattr(item, "fixturenames", ()))
        if names & {"pbx", "phones", "sip_agent", "tugi"}:
            item.add_marker(pytest.mark.asterisk)


@pytest.fixture(scope="session")
def settings() -> Settings:
    return shop.test_settings()


@pytest.fixture(scope="session")
def pbx(settings: Settings) -> Iterator:
    """A running Asterisk 22 configured from the test shop; stopped, with no process left, at the end."""
    from tugi.local_asterisk import LocalAsterisk, ensure_root

    root = ensure_root()
    name = f"test-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    instance = LocalAsterisk(settings, name=name, root=root)
    instance.start()
    try:
        yield instance
    finally:
        instance.stop()
        if os.environ.get("TUGI_KEEP_PBX_RUNS") != "1":
            shutil.rmtree(instance.dir, ignore_errors=True)


@pytest.fixture(scope="session")
def sip_agent(pbx) -> Iterator:
    from tests.support.sip import SipAgent

    agent = SipAgent()
    try:
        yield agent
    finally:
        agent.close()


@pytest.fixture(scope="session")
def clock():
    from tests.support.engine import FakeClock

    return FakeClock()


@pytest.fixture(scope="session")
def tugi(pbx, settings: Settings, clock, tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    """Tugi's engine (AMI, FastAGI, history on SQLite) against the test Asterisk."""
    from tests.support.engine import EngineThread

    db = tmp_path_factory.mktemp("tugi") / "history.sqlite3"
    engine_settings = settings.model_copy(
        update={"database": settings.database.model_copy(update={"url": f"sqlite:///{db}"})}
    )
    thread = EngineThread(engine_settings, clock)
    thread.start()
    try:
        yield thread
    finally:
        thread.stop()


@pytest.fixture(scope="session")
def phones(sip_agent) -> dict:
    """The four staff phones of the test shop, registered for the whole session."""
    registrar = f"127.0.0.1:{shop.SIP_PORT}"
    return {
        staff_id: sip_agent.phone(staff_id, password=f"test-secret-{staff_id}", registrar=registrar)
        for staff_id in ("alice", "bob", "carol", "dan")
    }
