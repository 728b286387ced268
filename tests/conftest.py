"""Shared fixtures: a real Asterisk 22 and real SIP phones, started once per test session."""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from collections.abc import Iterator

import pytest
from hypothesis import settings as hypothesis_settings

from config.schema import Settings
from tests.support import shop

# The same examples on every run, so a green CI does not depend on luck; a new search for
# counterexamples is one variable away: TUGI_HYPOTHESIS=explore python3 -m pytest …
hypothesis_settings.register_profile("repeatable", derandomize=True)
hypothesis_settings.register_profile("explore", derandomize=False)
hypothesis_settings.load_profile(os.environ.get("TUGI_HYPOTHESIS", "repeatable"))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Tests under integration/ that name a real-part fixture are marked so `-m "not asterisk"` works.
    for item in items:
        names = set(getattr(item, "fixturenames", ()))
        if names & {"pbx", "phones", "sip_agent", "tugi"}:
            item.add_marker(pytest.mark.asterisk)
    # A test that restarts the shared Asterisk runs last, so no other test meets its aftermath.
    items.sort(key=lambda item: item.get_closest_marker("restarts_pbx") is not None)


@pytest.fixture(scope="session")
def settings() -> Settings:
    return shop.test_settings()


@pytest.fixture(scope="session")
def pbx(settings: Settings) -> Iterator:
    """A running Asterisk 22 configured from the test shop; stopped, with no process left, at the end."""
    from tugi.local_asterisk import LocalAsterisk, ensure_root

    root = ensure_root()
    _stop_leftovers(root)
    name = f"test-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    instance = LocalAsterisk(settings, name=name, root=root)
    instance.start(extra={"pjsip.conf": _pjsip_with_test_web_phone(settings)})
    try:
        yield instance
    finally:
        instance.stop()
        if os.environ.get("TUGI_KEEP_PBX_RUNS") != "1":
            shutil.rmtree(instance.dir, ignore_errors=True)


def _stop_leftovers(root) -> None:
    """A test run that crashed (pjsua2 aborts the interpreter on misuse) skips its teardown and
    leaves its Asterisk on the test ports; stop such leftovers of earlier runs and their folders."""
    import signal

    for folder in root.glob("tugi-runs/test-*"):
        pid_file = folder / "run" / "asterisk.pid"
        if pid_file.exists():
            with contextlib.suppress(ValueError, ProcessLookupError, PermissionError):
                os.kill(int(pid_file.read_text().strip()), signal.SIGKILL)
        shutil.rmtree(folder, ignore_errors=True)


def _pjsip_with_test_web_phone(settings: Settings) -> str:
    """The rendered pjsip.conf plus a plain-RTP phone that enters the web-call context.

    pjsua2 speaks no WebRTC, so this endpoint stands in for the browser to test what the
    web-call context does (token check, routing); the browser tests cover WebRTC itself.
    """
    from dialplans.render import render

    (pjsip,) = [f.text for f in render(settings) if f.name == "pjsip.conf"]
    return pjsip + (
        "\n[webtest]\ntype=endpoint\ncontext=tugi-web\ntransport=transport-udp\ndisallow=all\nallow=ulaw\n"
        "auth=webtest-auth\naors=webtest\ncallerid=\"Web visitor\" <web>\ndirect_media=no\n"
        "\n[webtest-auth]\ntype=auth\nauth_type=userpass\nusername=webtest\npassword=test-secret-webtest\n"
        "\n[webtest]\ntype=aor\nmax_contacts=1\nremove_existing=yes\n"
    )


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

    data = tmp_path_factory.mktemp("tugi")
    engine_settings = settings.model_copy(
        update={
            "database": settings.database.model_copy(update={"url": f"sqlite:///{data / 'history.sqlite3'}"}),
            "asterisk": settings.asterisk.model_copy(update={"cel_csv": str(pbx.cel_csv)}),
        }
    )
    thread = EngineThread(engine_settings, clock, data)
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
        for staff_id in ("alice", "bob", "carol", "dan", "webtest")
    }


@pytest.fixture(scope="module")
def outsourced_phone(sip_agent) -> Iterator:
    """The outsourced call centre's trunk: answers at 127.0.0.3, as the config says.

    Module-scoped and closed after: pjsua2 allows only 8 accounts per process.
    """
    phone = sip_agent.phone("testshop", bind_ip=shop.OUTSOURCED_IP, bind_port=shop.OUTSOURCED_PORT, register=False)
    yield phone
    phone.close()


@pytest.fixture(autouse=True)
def _no_call_left_ringing(request: pytest.FixtureRequest) -> Iterator:
    yield
    if "phones" in request.fixturenames:
        for phone in request.getfixturevalue("phones").values():
            phone.hangup_all()
            phone.drain()
