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
        if names & {"pbx", "phones", "sip_agent"}:
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
